// The coordinator's side of the wire, behind an interface: RouterTransport
// (ZeroMQ ROUTER, CURVE + allowlist, socket monitor) in production,
// MemoryTransport in tests and fuzzing, so the round logic runs without a
// socket.
//
// A message is one frame from one peer: `peer` is the transport's routing
// identity of the connection, `key` the CURVE public key (Z85) it
// authenticated with (empty when insecure). Bytes are borrowed for the
// duration of the callback only.
// Thread-safety: one owner thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace signfed::net {

struct Inbound {
  const std::string& peer;
  std::span<const std::uint8_t> bytes;
  const std::string& key;
};

// Something the transport refused or noticed on its own (a rejected CURVE
// handshake, a malformed multipart message, an accept failure, a key the
// allowlist no longer lists): `who` names the source for rate limiting,
// `kind` is the event-row kind.
struct TransportEvent {
  std::string who, kind, detail;
};
// kind of the event for a key dropped from (or re-bound in) the allowlist;
// `who` is the key: its live connections must not be heard any more.
inline constexpr const char* kKeyRevoked = "key_revoked";
// kind of the event for a peer that stopped reading: `who` is its routing id.
// Its queue outgrew the transport's per-peer bound, so nothing more is queued
// for it and what it sends is not heard until it has read what is queued (or
// reconnected); the owner should treat it as disconnected. Once per drop.
inline constexpr const char* kPeerNotReading = "peer_not_reading";

// What the allowlist says of an authenticated key.
struct KeyGrant {
  bool listed = false;  // the key may talk (always true in plaintext)
  std::string name;     // the one board name it may join as; "": not fixed by the allowlist
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Waits at most timeout_ms for traffic, then hands every queued message to
  // on_message in arrival order and every transport event to on_event.
  // Returns whether any message arrived. A wait interrupted by a signal
  // (EINTR) returns false early, so the caller can check its stop token.
  virtual bool poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
                    const std::function<void(const TransportEvent&)>& on_event) = 0;
  // Hands over the events noticed since the last poll (the run is ending:
  // its summaries must count them), without reading any message.
  virtual void drain_events(const std::function<void(const TransportEvent&)>& on_event) { (void)on_event; }
  // Queues bytes for peer without blocking; returns bytes.size(), or 0 when
  // the message was dropped (unknown or departed peer, a peer dropped for not
  // reading, full queue: then a kPeerNotReading event follows).
  virtual std::size_t send(const std::string& peer, std::span<const std::uint8_t> bytes) = 0;
  // send() to each of peers, the same bytes; returns the bytes queued in all.
  // A transport may share one copy of the bytes among the peers' queues
  // (RouterTransport does: one copy of a 407 KB result instead of one per client).
  virtual std::size_t send_to_all(std::span<const std::string> peers, std::span<const std::uint8_t> bytes) {
    std::size_t sent = 0;
    for (const std::string& peer : peers) sent += send(peer, bytes);
    return sent;
  }
  // Where clients connect (with the real port when bound to tcp://*:0).
  virtual std::string endpoint() const = 0;
  // On destruction, keep trying to deliver what is queued for up to ms
  // (the last results and Byes), instead of dropping it.
  virtual void linger_on_close(int ms) { (void)ms; }
  // One line for the run's log: "PLAINTEXT ..." or "CURVE; allowlist ...".
  virtual std::string describe() const = 0;
  // Whether `key` (an Inbound::key) is listed now, and the name bound to it.
  // Plaintext transports list everyone (key ""), with no name.
  virtual KeyGrant grant(const std::string& key) const = 0;
};

}  // namespace signfed::net
