// The clients of a run: who they are (name, CURVE key), where they are (the
// transport's routing id), whether they are alive, and who takes part in a
// round.
//
// A client's name is its identity across reconnects and coordinator restarts
// (ids are given in join order and stored with the run). Under CURVE one key
// is one board: a key joins under one name only (the allowlist's, or the
// first it used; the binding is stored with the run and restored on resume),
// and a name belongs to its key. Every message is attributed by (routing id,
// key): a connection presenting another key's routing id is a stranger. In
// plaintext there is no identity at all; a connection joins under one name.
// Pure: no I/O; the caller passes the monotonic time. Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/round_log.h"

namespace signfed::coord {

struct Client {
  ClientRow row;              // what the log stores (id, name, platform, samples, ...)
  std::string peer;           // current routing id
  double last_seen = 0.0;     // monotonic s
  double last_join = -1e9, last_snapshot = -1e9;
  bool connected = false;     // joined since this coordinator process started
  std::uint32_t relay_clients = 0;  // a relay (signfed-relay) speaking for this many clients; 0: a client
  std::uint32_t reject_round = 0, rejects = 0;  // rejection rows logged in reject_round
};

class ClientRegistry {
 public:
  explicit ClientRegistry(std::uint32_t max_clients) : max_clients_(max_clients) {}

  // 1..128 characters of [A-Za-z0-9._-:@+#/].
  static bool valid_name(std::string_view name);

  enum class Outcome {
    admitted,       // new, or a rejoin (possibly on a new connection): bound to peer
    throttled,      // the same connection repeated its Join within min_interval_s: ignore it
    identity_taken, // the name belongs to another CURVE key
    key_has_name,   // this key is bound to another name (allowlist or an earlier Join)
    peer_has_name,  // plaintext: this connection already joined under another name
    full,           // max_clients distinct names already joined this run
  };
  struct Admission {
    Outcome outcome = Outcome::admitted;
    Client* client = nullptr;   // admitted: the client; identity_taken, peer_has_name: the owner
    std::string bound_name;     // key_has_name: the name the key is bound to
  };
  // `key`: the CURVE key the Join came with ("" in plaintext); `listed_name`:
  // the name the allowlist binds it to ("" if none).
  Admission admit(const std::string& name, const std::string& key, const std::string& listed_name,
                  const std::string& peer, double now, double min_interval_s);
  // A client known from the log of a resumed run (not connected until it
  // joins), with the key its name is bound to (row.key).
  void restore(const ClientRow& row);
  // The key is no longer allowed: its clients are disconnected and their
  // connections unheard. Returns their ids.
  std::vector<std::uint32_t> revoke(const std::string& key);
  // The connection is gone (the transport dropped it): its client, if one
  // joined on it, is disconnected until it joins again. Returns its id.
  std::optional<std::uint32_t> disconnect_peer(const std::string& peer);

  // The client that joined on this connection with this key, or nullptr.
  Client* by_peer(const std::string& peer, const std::string& key);
  // Whether some client joined on this connection (whatever its key).
  bool knows_peer(const std::string& peer) const { return by_peer_.count(peer) > 0; }
  Client& at(std::uint32_t id) { return *clients_.at(id); }
  const Client& at(std::uint32_t id) const { return *clients_.at(id); }
  std::size_t size() const { return clients_.size(); }
  std::uint32_t connected() const;
  // Connected clients with each relay counted as the clients it speaks for
  // (what --clients waits for).
  std::uint32_t connected_weight() const;
  // The same count over the given clients (a round's selected: the leaves it stands for).
  std::uint32_t weight(std::span<const std::uint32_t> ids) const;
  // A client behind a relay, named in the relay's TallyUpdate: its id for the
  // log (a known name keeps its id; a new one gets the next id and is never
  // connected here). nullopt when max_clients names are known already.
  std::optional<std::uint32_t> behind_relay(const std::string& name);
  // Routing ids of every connected client (broadcasts).
  std::vector<std::string> connected_peers() const;
  // Ids of every connected client, ascending.
  std::vector<std::uint32_t> connected_ids() const;
  // Ids of every known client (connected or not, behind relays too), ascending.
  std::vector<std::uint32_t> ids() const;

  // The round's participants: the live clients (connected, heard from within
  // dead_after_ms), or a seeded share of them -- ceil(fraction * live) + extra,
  // drawn from (seed, round) over the clients in name order, so a resume or
  // another join order draws the same set. Sorted by id.
  std::vector<std::uint32_t> select(std::uint32_t round, std::uint64_t seed, double fraction, std::size_t extra,
                                    double now, double dead_after_ms) const;

 private:
  std::uint32_t max_clients_;
  std::map<std::uint32_t, std::unique_ptr<Client>> clients_;  // by id
  std::map<std::string, std::uint32_t> by_peer_, by_name_, by_key_;
};

}  // namespace signfed::coord
