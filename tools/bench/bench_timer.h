// Hand-written timer for signfed-bench: run a callable repeatedly on
// std::chrono::steady_clock, keep the minimum (least disturbed by other load)
// and the median of the runs.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace signfed::bench {

// Tells the optimiser the pointee is read and written: results computed into
// it cannot be removed as dead code.
inline void do_not_optimize(const void* p) { __asm__ __volatile__("" : : "r"(p) : "memory"); }
template <class T>
inline void do_not_optimize_value(const T& v) {
  do_not_optimize(&v);
}

struct TimerConfig {
  double min_total_s = 0.25;  // keep repeating until this much time is spent...
  int min_runs = 5;           // ...and at least this many runs...
  int max_runs = 50;          // ...but never more than this.
};

struct Timing {
  double min_s = 0;
  double median_s = 0;
  int runs = 0;
};

// One untimed warm-up run (page faults, caches, lazy dispatch), then timed runs.
template <class F>
Timing time_runs(F&& fn, const TimerConfig& cfg) {
  using Clock = std::chrono::steady_clock;
  fn();
  std::vector<double> samples;
  double total = 0;
  while (static_cast<int>(samples.size()) < cfg.max_runs &&
         (static_cast<int>(samples.size()) < cfg.min_runs || total < cfg.min_total_s)) {
    const auto t0 = Clock::now();
    fn();
    const auto t1 = Clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    samples.push_back(s);
    total += s;
  }
  std::sort(samples.begin(), samples.end());
  return {samples.front(), samples[samples.size() / 2], static_cast<int>(samples.size())};
}

}  // namespace signfed::bench
