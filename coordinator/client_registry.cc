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
                                                const std::string& listed_name, const std::string& peer, double now,
                                                double min_interval_s) {
  if (!key.empty()) {  // one key, one board
    if (!listed_name.empty() && name != listed_name) return {Outcome::key_has_name, nullptr, listed_name};
    if (auto it = by_key_.find(key); it != by_key_.end() && clients_.at(it->second)->row.name != name)
      return {Outcome::key_has_name, nullptr, clients_.at(it->second)->row.name};
  } else if (auto it = by_peer_.find(peer); it != by_peer_.end() && clients_.at(it->second)->row.name != name) {
    return {Outcome::peer_has_name, clients_.at(it->second).get(), {}};  // plaintext: one name per connection
  }
  std::uint32_t id;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Client& old = *clients_.at(it->second);
    if (!old.row.key.empty() && old.row.key != key) return {Outcome::identity_taken, &old, {}};
    // Join storm: one Join per name per interval from the same connection.
    if (old.connected && old.peer == peer && now - old.last_join < min_interval_s) return {Outcome::throttled, &old, {}};
    id = it->second;
    by_peer_.erase(old.peer);
  } else {
    if (clients_.size() >= max_clients_) return {Outcome::full, nullptr, {}};
    id = clients_.empty() ? 0 : clients_.rbegin()->first + 1;
    by_name_[name] = id;
    clients_[id] = std::make_unique<Client>();
  }
  Client& c = *clients_.at(id);
  c.row.client_id = id;
  c.row.name = name;
  c.row.key = key;
  if (!key.empty()) by_key_[key] = id;
  c.peer = peer;
  c.connected = true;
  c.last_seen = now;
  c.last_join = now;
  by_peer_[peer] = id;
  return {Outcome::admitted, &c, {}};
}

void ClientRegistry::restore(const ClientRow& row) {
  auto c = std::make_unique<Client>();
  c->row = row;
  by_name_[row.name] = row.client_id;
  if (!row.key.empty()) by_key_[row.key] = row.client_id;
  clients_[row.client_id] = std::move(c);
}

std::vector<std::uint32_t> ClientRegistry::revoke(const std::string& key) {
  std::vector<std::uint32_t> ids;
  if (key.empty()) return ids;
  for (auto& [id, c] : clients_) {
    if (c->row.key != key || !c->connected) continue;
    c->connected = false;
    by_peer_.erase(c->peer);
    c->peer.clear();
    ids.push_back(id);
  }
  return ids;
}

std::optional<std::uint32_t> ClientRegistry::disconnect_peer(const std::string& peer) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return std::nullopt;
  const std::uint32_t id = it->second;
  Client& c = *clients_.at(id);
  c.connected = false;
  c.peer.clear();
  by_peer_.erase(it);
  return id;
}

Client* ClientRegistry::by_peer(const std::string& peer, const std::string& key) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return nullptr;
  Client* c = clients_.at(it->second).get();
  return c->row.key == key ? c : nullptr;  // another key on this routing id is a stranger
}

std::uint32_t ClientRegistry::connected() const {
  return static_cast<std::uint32_t>(
      std::count_if(clients_.begin(), clients_.end(), [](const auto& kv) { return kv.second->connected; }));
}

std::uint32_t ClientRegistry::connected_weight() const {
  std::uint32_t n = 0;
  for (const auto& [id, c] : clients_)
    if (c->connected) n += std::max<std::uint32_t>(1, c->relay_clients);
  return n;
}

std::uint32_t ClientRegistry::weight(std::span<const std::uint32_t> ids) const {
  std::uint32_t n = 0;
  for (std::uint32_t id : ids) n += std::max<std::uint32_t>(1, at(id).relay_clients);
  return n;
}

std::optional<std::uint32_t> ClientRegistry::behind_relay(const std::string& name) {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  if (clients_.size() >= max_clients_) return std::nullopt;
  const std::uint32_t id = clients_.empty() ? 0 : clients_.rbegin()->first + 1;
  by_name_[name] = id;
  auto c = std::make_unique<Client>();
  c->row.client_id = id;
  c->row.name = name;
  clients_[id] = std::move(c);
  return id;
}

std::vector<std::string> ClientRegistry::connected_peers() const {
  std::vector<std::string> peers;
  for (const auto& [id, c] : clients_)
    if (c->connected) peers.push_back(c->peer);
  return peers;
}

std::vector<std::uint32_t> ClientRegistry::ids() const {
  std::vector<std::uint32_t> out;
  out.reserve(clients_.size());
  for (const auto& [id, c] : clients_) out.push_back(id);
  return out;
}

std::vector<std::uint32_t> ClientRegistry::connected_ids() const {
  std::vector<std::uint32_t> ids;
  for (const auto& [id, c] : clients_)
    if (c->connected) ids.push_back(id);
  return ids;
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
