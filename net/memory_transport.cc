#include "net/memory_transport.h"

#include <utility>

namespace signfed::net {

void MemoryTransport::deliver(std::string peer, std::vector<std::uint8_t> bytes, std::string key) {
  inbox_.push_back({std::move(peer), std::move(key), std::move(bytes)});
}

std::vector<MemoryTransport::Frame> MemoryTransport::take_sent() { return std::exchange(sent_, {}); }

bool MemoryTransport::poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
                           const std::function<void(const TransportEvent&)>&) {
  if (inbox_.empty() && on_idle) on_idle();
  if (inbox_.empty()) {
    clock_.advance(timeout_ms / 1000.0);
    return false;
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
