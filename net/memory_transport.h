// An in-memory Transport for tests and fuzzing: no socket, no thread, no
// sleep. A test queues inbound frames with deliver() (now) or deliver_at()
// (when the ManualClock reaches a time: a client that answers after a delay)
// and reads what the coordinator sent from sent(). poll() with nothing due
// moves the clock to the next scheduled frame or by the timeout, whichever
// comes first, instead of waiting; so deadlines pass at once.
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "net/clock.h"
#include "net/transport.h"

namespace signfed::net {

class MemoryTransport final : public Transport {
 public:
  struct Frame {
    std::string peer, key;
    std::vector<std::uint8_t> bytes;
  };

  explicit MemoryTransport(ManualClock& clock) : clock_(clock) {}

  // Queues a frame from peer (authenticated as key; empty: plaintext).
  void deliver(std::string peer, std::vector<std::uint8_t> bytes, std::string key = {});
  // The same, arriving when the clock reaches at_s (ManualClock::now_s scale).
  void deliver_at(double at_s, std::string peer, std::vector<std::uint8_t> bytes, std::string key = {});
  // Everything sent so far, oldest first; take_sent() empties it.
  const std::vector<Frame>& sent() const { return sent_; }
  std::vector<Frame> take_sent();
  // Called when poll() finds nothing queued (before the clock moves); a test
  // uses it to answer the coordinator like a fleet of clients would.
  std::function<void()> on_idle;
  // As if under CURVE with this allowlist (key -> bound name, "" for none);
  // revoke() drops a key and reports it at the next poll, as a reloaded
  // allowlist file would. Without allow(): plaintext, everyone listed.
  void allow(std::string key, std::string name = {});
  void revoke(const std::string& key);

  bool poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
            const std::function<void(const TransportEvent&)>& on_event) override;
  std::size_t send(const std::string& peer, std::span<const std::uint8_t> bytes) override;
  std::string endpoint() const override { return "memory://"; }
  std::string describe() const override { return "PLAINTEXT (insecure): in-memory transport"; }
  KeyGrant grant(const std::string& key) const override;

 private:
  void move_due();

  ManualClock& clock_;
  std::deque<Frame> inbox_;
  std::multimap<double, Frame> scheduled_;  // by arrival time; equal times keep their order
  std::vector<Frame> sent_;
  bool secure_ = false;
  std::map<std::string, std::string> allowlist_;
  std::vector<std::string> revoked_;  // not yet reported
};

}  // namespace signfed::net
