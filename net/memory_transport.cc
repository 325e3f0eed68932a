#include "net/memory_transport.h"

#include <algorithm>
#include <utility>

namespace signfed::net {

void MemoryTransport::deliver(std::string peer, std::vector<std::uint8_t> bytes, std::string key) {
  inbox_.push_back({std::move(peer), std::move(key), std::move(bytes)});
}

void MemoryTransport::deliver_at(double at_s, std::string peer, std::vector<std::uint8_t> bytes, std::string key) {
  scheduled_.emplace(at_s, Frame{std::move(peer), std::move(key), std::move(bytes)});
}

void MemoryTransport::move_due() {
  while (!scheduled_.empty() && scheduled_.begin()->first <= clock_.now_s()) {
    inbox_.push_back(std::move(scheduled_.begin()->second));
    scheduled_.erase(scheduled_.begin());
  }
}

std::vector<MemoryTransport::Frame> MemoryTransport::take_sent() { return std::exchange(sent_, {}); }

void MemoryTransport::allow(std::string key, std::string name) {
  secure_ = true;
  allowlist_[std::move(key)] = std::move(name);
}

void MemoryTransport::revoke(const std::string& key) {
  if (allowlist_.erase(key) > 0) revoked_.push_back(key);
}

KeyGrant MemoryTransport::grant(const std::string& key) const {
  if (!secure_) return {true, {}};
  const auto it = allowlist_.find(key);
  return it == allowlist_.end() ? KeyGrant{false, {}} : KeyGrant{true, it->second};
}

bool MemoryTransport::poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
                           const std::function<void(const TransportEvent&)>& on_event) {
  for (const std::string& key : std::exchange(revoked_, {})) on_event({key, kKeyRevoked, "key revoked"});
  move_due();
  if (inbox_.empty() && on_idle) on_idle();
  move_due();
  if (inbox_.empty()) {
    // Nothing due: time passes to the next arrival or by the timeout.
    const double until = clock_.now_s() + timeout_ms / 1000.0;
    const double next = scheduled_.empty() ? until : std::min(until, scheduled_.begin()->first);
    clock_.advance_to(next);
    move_due();
    if (inbox_.empty()) return false;
  }
  while (!inbox_.empty()) {
    Frame f = std::move(inbox_.front());
    inbox_.pop_front();
    on_message({f.peer, f.bytes, f.key});
  }
  return true;
}

std::size_t MemoryTransport::send(const std::string& peer, std::span<const std::uint8_t> bytes) {
  if (peer.empty()) return 0;
  sent_.push_back({peer, {}, {bytes.begin(), bytes.end()}});
  return bytes.size();
}

}  // namespace signfed::net
