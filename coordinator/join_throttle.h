// How often one identity may Join: a token bucket per source (the CURVE key;
// plaintext has no identity to throttle, see docs/security.md).
//
// A Join costs the coordinator a Welcome, a clients-row write and, once the
// model has moved, possibly a snapshot. A board that crashes and restarts
// rejoins a few times in a row (burst), then at most once per refill_s; a key
// cycling connect/Join/close is held to the same rate whatever connections it
// uses. Over the rate a Join is dropped without a reply (nothing to amplify);
// the edge retries after its rejoin timeout.
//
// Sources are remembered in a map cleared past kMaxSources entries, so memory
// stays bounded under a storm of fresh sources (which the allowlist refuses
// first in CURVE mode anyway). Pure: the caller passes the monotonic time.
// Thread-safety: none.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace signfed::coord {

class JoinThrottle {
 public:
  static constexpr std::size_t kMaxSources = 100'000;

  JoinThrottle(double burst, double refill_s) : burst_(burst), refill_s_(refill_s) {}

  // Whether source may Join at now_s; an allowed Join spends one token.
  bool allow(const std::string& source, double now_s) {
    if (buckets_.size() >= kMaxSources && !buckets_.contains(source)) buckets_.clear();
    auto [it, fresh] = buckets_.try_emplace(source, Bucket{burst_, now_s});
    Bucket& b = it->second;
    if (!fresh) b.tokens = std::min(burst_, b.tokens + (now_s - b.at) / refill_s_);
    b.at = now_s;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    double at;
  };
  double burst_, refill_s_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace signfed::coord
