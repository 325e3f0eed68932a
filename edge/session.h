// The edge client's link to the coordinator: one ZeroMQ DEALER (plaintext or
// CURVE, net/curve.h), the Join / Heartbeat traffic, and the timers that
// rejoin a silent coordinator and finally give up. It knows nothing of
// models or rounds: it carries frames.
//
// States (State):
//   idle             constructed, nothing sent
//   waiting_welcome  Join sent (re-sent every 3 s, and after rejoin_after_ms
//                    of silence); no client id
//   joined           a Welcome gave us a client id; heartbeats carry it
//   finished         Bye, a fatal error, the stop token or give_up_after_ms
//                    of silence; exit_code() says which
// idle -> waiting_welcome (start) -> joined (welcomed) -> waiting_welcome
// (rejoin: silence or an unknown_client error) ...; any -> finished.
//
// Time comes from a net::Clock (now_s(): monotonic seconds; default the
// system's steady clock), so tests drive the timers with a ManualClock.
// One Session owns its socket and is used from one thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "edge/log.h"
#include "net/clock.h"
#include "net/curve.h"

namespace signfed::edge {


struct SessionConfig {
  // The parent's endpoint, or an ordered list "A,B,...": after rejoin_after_ms
  // of silence the session fails over to the next one (a dead relay: another
  // relay or the coordinator; docs/relay.md), round robin.
  std::string endpoint;
  std::string name;  // routing id prefix
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t rejoin_after_ms = 4000;
  std::uint32_t give_up_after_ms = 600000;
  // Transport security (docs/security.md): insecure = plaintext; otherwise
  // this client's secret key file and the coordinator's public key file.
  bool insecure = true;
  std::string curve_key_file;
  std::string server_key_file;  // one file, or one per endpoint ("A.pub,B.pub") in the same order
};

class Session {
 public:
  enum class State { idle, waiting_welcome, joined, finished };

  // Connects the socket (throws std::invalid_argument for a secure config
  // without both key files, curve::KeyError for unreadable keys).
  Session(const SessionConfig& cfg, zmq::context_t& ctx, const Log& log, const std::atomic<bool>* stop = nullptr,
          const net::Clock& clock = net::system_clock());
  ~Session();

  // Sends a Join made by `make_join` (a finished Join envelope; called again
  // for every re-send and rejoin, so it carries the model digest of that
  // moment and need not be kept) and starts the timers.
  void start(std::function<std::vector<std::uint8_t>()> make_join);
  // Drains up to 4096 queued frames (without blocking); any frame counts as
  // word from the coordinator. The frames live in the session, valid until
  // release() or the next receive(); their message objects are reused, so a
  // steady stream of rounds allocates nothing here (libzmq's own buffers aside).
  std::span<const zmq::message_t> receive();
  // Frees the received frames' contents (libzmq's buffers), so an idle client
  // does not hold its last round's result until the next one. Allocates nothing.
  void release();
  // Heartbeats, join retries, rejoin on silence, give-up, the CURVE monitor
  // and the stop token; call at least every heartbeat interval. Returns false
  // once finished.
  bool tick();

  void welcomed(std::uint32_t client_id);  // -> joined
  void rejoin();                           // -> waiting_welcome, Join sent now
  void finish(int exit_code);              // -> finished
  void send(std::span<const std::uint8_t> frame);  // never blocks; dropped if the queue is full
  // The last round we sent an update for (heartbeats report it).
  void sent_update(std::uint32_t round) { last_update_round_ = round; }
  std::optional<std::uint32_t> last_update_round() const { return last_update_round_; }

  State state() const { return state_; }
  std::optional<std::uint32_t> client_id() const { return client_id_; }
  int exit_code() const { return exit_code_; }
  zmq::socket_t& socket() { return dealer_; }
  // A poll timeout that keeps the timers on time, ms.
  std::uint32_t poll_ms() const { return std::min<std::uint32_t>(cfg_.heartbeat_ms, 200); }

 private:
  void send_join();
  void connect_current();  // a fresh socket to endpoints_[current_]
  void fail_over();        // the next endpoint
  void send_heartbeat();
  bool check_monitor();  // false: fatal handshake failure

  SessionConfig cfg_;
  const Log& log_;
  const std::atomic<bool>* stop_;
  const net::Clock& clock_;  // monotonic seconds (net/clock.h)
  zmq::context_t& ctx_;
  std::vector<std::string> endpoints_, server_keys_;
  std::size_t current_ = 0;
  zmq::socket_t dealer_;
  std::unique_ptr<curve::SocketMonitor> monitor_;  // CURVE handshake failures (secure only)
  std::function<std::vector<std::uint8_t>()> make_join_;
  std::vector<zmq::message_t> inbox_;  // receive()'s frames; grows to the largest batch seen
  State state_ = State::idle;
  std::optional<std::uint32_t> client_id_;
  std::optional<std::uint32_t> last_update_round_;
  double last_heard_ = 0.0, last_join_ = 0.0, last_beat_ = 0.0;
  bool warned_silent_ = false;
  bool warned_handshake_ = false;
  int exit_code_ = 0;
};

}  // namespace signfed::edge
