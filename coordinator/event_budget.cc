#include "coordinator/event_budget.h"

namespace signfed::coord {

EventBudget::Decision EventBudget::spend(const std::string& source, double now_s) {
  if (windows_.size() > 100000) windows_.clear();  // bounded memory under a storm of sources
  Decision d;
  auto [it, fresh] = windows_.try_emplace(source, Window{now_s, 0, 0});
  Window& w = it->second;
  if (now_s - w.start > 60.0) {
    if (w.suppressed > 0) d.suppressed_last_window = w.suppressed;
    w = Window{now_s, 0, 0};
  }
  if (w.used >= per_minute_) {
    ++w.suppressed;
    return d;
  }
  ++w.used;
  d.allowed = true;
  return d;
}

}  // namespace signfed::coord
