// The production Transport: one ZeroMQ ROUTER socket, bound at construction.
//
// Plaintext, or CURVE with a ZAP allowlist (net/zap_authenticator.h) that is
// in place before the bind, so no connection is ever unauthenticated. Frame
// size is capped by ZMQ_MAXMSGSIZE. Memory per connection is bounded both ways
// (docs/security.md, "Bounded memory"):
// - out: the bytes queued for a peer and not yet written to its TCP socket
//   are counted exactly (each message's free callback, run by libzmq's I/O
//   thread when the message leaves the queue); a send that would take a peer
//   past max_queued_bytes (or past SNDHWM messages: ROUTER_MANDATORY makes
//   that an EAGAIN instead of a silent drop) drops the peer: kPeerNotReading,
//   nothing more is queued for it and it is not heard until its queue drains.
// - in: libzmq hands a multipart message over only when its last part has
//   arrived, and caps frames, not messages, so a connection could pin any
//   number of parts unseen. A watchdog thread compares, per TCP connection,
//   the bytes the kernel received (TCP_INFO) with the bytes of the messages
//   poll() took from it (ZMQ_SRCFD); a connection more than
//   max_unread_input_bytes ahead is shut down (libzmq then frees the partial
//   message) and reported as a bad_frame event. It scans when the process's
//   RSS has grown by 2 MiB since the last scan (checked every 5 ms), and at
//   least every second.
// The socket monitor also reports accept failures (fd exhaustion) as events
// and, at most every 5 s, on stderr.
// Thread-safety: the socket and the ZAP handler belong to the thread that
// calls poll() and send() (ZeroMQ sockets are not thread-safe); the watchdog
// owns the monitor socket and shares only a mutex-guarded table with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "net/curve.h"
#include "net/transport.h"
#include "net/zap_authenticator.h"

namespace signfed::net {

struct RouterOptions {
  std::string endpoint = "tcp://*:5555";
  std::int64_t max_frame_bytes = 0;   // 0: libzmq's default (no cap)
  bool insecure = true;
  std::string secret_key_file;        // CURVE: the coordinator's secret key (signfed-keygen)
  std::string allowlist_file;         // CURVE: client public keys
  // Bytes queued for one peer (message bytes + kQueuedMessageOverhead each)
  // beyond which it counts as not reading and is dropped; 0: no limit. A
  // single message is always queued for a peer with an empty queue.
  std::int64_t max_queued_bytes = 64 << 20;
  // Messages queued for one peer (SNDHWM) beyond which it is dropped too.
  int max_queued_messages = 10000;
  // Bytes a connection may have sent beyond the messages poll() has taken
  // from it (a multipart message in progress, messages not read yet) before
  // it is closed; 0: 2 x max_frame_bytes + 1 MiB (64 MiB for max_frame_bytes
  // when frames are not capped).
  std::int64_t max_unread_input_bytes = 0;
};

// What one queued message costs besides its bytes (libzmq's message and
// queue entries), charged against max_queued_bytes.
inline constexpr std::int64_t kQueuedMessageOverhead = 256;

struct SharedBody;  // router_transport.cc: one refcounted copy of bytes queued for many peers

class RouterTransport final : public Transport {
 public:
  // Throws std::runtime_error (with what to do) when keys, allowlist or bind fail.
  RouterTransport(zmq::context_t& ctx, const RouterOptions& opt);
  ~RouterTransport() override;

  bool poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
            const std::function<void(const TransportEvent&)>& on_event) override;
  void drain_events(const std::function<void(const TransportEvent&)>& on_event) override;
  std::size_t send(const std::string& peer, std::span<const std::uint8_t> bytes) override;
  std::size_t send_to_all(std::span<const std::string> peers, std::span<const std::uint8_t> bytes) override;
  std::string endpoint() const override;
  std::string describe() const override;
  void linger_on_close(int ms) override { router_.set(zmq::sockopt::linger, ms); }
  KeyGrant grant(const std::string& key) const override;

 private:
  // Bytes queued for one peer; shared with the free callbacks of its messages.
  struct OutQueue {
    std::atomic<std::int64_t> bytes{0};
    bool dropped = false;  // not reading: nothing more is queued, nothing heard
  };
  // A TCP connection the watchdog watches (by fd).
  struct Inflow {
    std::uint64_t consumed = 0;  // wire bytes of the messages poll() took from it
    std::string address;         // the peer's ip:port (guards against fd reuse)
  };

  void serve_zap(const std::function<void(const TransportEvent&)>& on_event);
  void check_allowlist(const std::function<void(const TransportEvent&)>& on_event);
  // send()'s queue checks and the two frames; `shared`: the body's bytes are
  // that refcounted copy (send_to_all), else a copy of bytes of its own.
  std::size_t send_one(const std::string& peer, std::span<const std::uint8_t> bytes, SharedBody* shared);
  void drop_peer(const std::string& peer, OutQueue& q, const std::string& why);
  void sweep_queues();
  void watch();                    // the watchdog thread
  void watch_monitor();            // watchdog: connection table, accept failures
  void scan_connections();         // watchdog: close connections too far ahead

  std::unique_ptr<ZapAuthenticator> zap_;  // nullptr when insecure
  zmq::socket_t router_;
  bool curve_ = false;
  std::int64_t max_queued_bytes_ = 0, max_unread_input_ = 0;
  std::map<std::string, std::shared_ptr<OutQueue>> out_;  // by routing id; peers with bytes queued or dropped
  std::vector<TransportEvent> pending_;                   // raised by send(), reported by poll()
  double last_sweep_ = -1e9;
  std::uint64_t unheard_ = 0;  // messages from dropped peers, discarded

  std::mutex mu_;                      // guards conns_ and watched_events_
  std::map<int, Inflow> conns_;        // by fd
  std::vector<TransportEvent> watched_events_;
  std::unique_ptr<curve::SocketMonitor> monitor_;  // the watchdog's
  double last_accept_warning_ = -1e9;
  double last_allowlist_check_ = -1e9;
  std::atomic<bool> stop_{false};
  std::thread watchdog_;  // last: started when everything else exists
};

}  // namespace signfed::net
