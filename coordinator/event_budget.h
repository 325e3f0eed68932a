// Rate limit for event rows, per source: at most `per_minute` rows in a
// minute's window; the rest are counted and summarised in one
// 'events_suppressed' row when the window turns over. The map of sources is
// cleared past 100,000 entries, so a storm of fresh sources cannot grow it
// without bound. Pure: the caller passes the (monotonic) time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace signfed::coord {

class EventBudget {
 public:
  explicit EventBudget(std::uint32_t per_minute) : per_minute_(per_minute) {}

  struct Decision {
    bool allowed = false;
    // When the source's window turned over with rows suppressed: how many.
    std::optional<std::uint32_t> suppressed_last_window;
  };
  Decision spend(const std::string& source, double now_s);

 private:
  struct Window {
    double start = 0.0;
    std::uint32_t used = 0, suppressed = 0;
  };
  std::uint32_t per_minute_;
  std::map<std::string, Window> windows_;
};

}  // namespace signfed::coord
