#include "coordinator/client_registry.h"

#include <algorithm>
#include <cmath>

#include "core/data/rng.h"

namespace signfed::coord {

bool ClientRegistry::valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           std::string_view("._-:@+#/").find(ch) != std::string_view::npos;
  });
}

ClientRegistry::Admission ClientRegistry::admit(const std::string& name, const std::string& key,
                                                const std::string& peer, double now, double min_interval_s) {
  std::uint32_t id;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Client& old = *clients_.at(it->second);
    if (!key.empty() && !old.key.empty() && old.key != key) return {Outcome::identity_taken, &old};
    // Join storm: one Join per name per interval from the same connection.
    if (old.connected && old.peer == peer && now - old.last_join < min_interval_s) return {Outcome::throttled, &old};
    id = it->second;
    by_peer_.erase(old.peer);
  } else {
    if (clients_.size() >= max_clients_) return {Outcome::full, nullptr};
    id = clients_.empty() ? 0 : clients_.rbegin()->first + 1;
    by_name_[name] = id;
    clients_[id] = std::make_unique<Client>();
  }
  Client& c = *clients_.at(id);
  c.row.client_id = id;
  c.row.name = name;
  if (!key.empty()) c.key = key;
  c.peer = peer;
  c.connected = true;
  c.last_seen = now;
  c.last_join = now;
  by_peer_[peer] = id;
  return {Outcome::admitted, &c};
}

void ClientRegistry::restore(const ClientRow& row) {
  auto c = std::make_unique<Client>();
  c->row = row;
  by_name_[row.name] = row.client_id;
  clients_[row.client_id] = std::move(c);
}

Client* ClientRegistry::by_peer(const std::string& peer) {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? nullptr : clients_.at(it->second).get();
}

std::uint32_t ClientRegistry::connected() const {
  return static_cast<std::uint32_t>(
      std::count_if(clients_.begin(), clients_.end(), [](const auto& kv) { return kv.second->connected; }));
}

std::vector<std::string> ClientRegistry::connected_peers() const {
  std::vector<std::string> peers;
  for (const auto& [id, c] : clients_)
    if (c->connected) peers.push_back(c->peer);
  return peers;
}

std::vector<std::uint32_t> ClientRegistry::select(std::uint32_t round, std::uint64_t seed, double fraction,
                                                  std::size_t extra, double now, double dead_after_ms) const {
  std::vector<std::uint32_t> live;
  for (const auto& [id, c] : clients_)
    if (c->connected && (now - c->last_seen) * 1000.0 < dead_after_ms) live.push_back(id);
  const std::size_t want = std::min(
      live.size(), std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(fraction * live.size()))) + extra);
  if (want >= live.size() || live.empty()) return live;
  std::sort(live.begin(), live.end(),
            [&](std::uint32_t a, std::uint32_t b) { return clients_.at(a)->row.name < clients_.at(b)->row.name; });
  data::Rng rng(data::mix_seed(seed, round, 0x5e1ec7));
  for (std::size_t i = 0; i < want; ++i) std::swap(live[i], live[i + rng.below(live.size() - i)]);
  live.resize(want);
  std::sort(live.begin(), live.end());
  return live;
}

}  // namespace signfed::coord
