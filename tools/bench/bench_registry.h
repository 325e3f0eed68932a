// signfed-bench: a registry of named benchmark groups. A group is a function
// that measures some operations against a baseline timed in the same run and
// appends one BenchResult per (size, parameter, variant).
//
// Adding a group (e.g. the sign codecs): write bench_<name>.cc defining a
// BenchGroupFn, declare it and add one row in bench_groups.cc, and list the
// file in CMakeLists.txt. Nothing else changes: the table, --group filter and
// JSON output pick it up.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "tools/bench/bench_timer.h"

namespace signfed::bench {

// What a result is judged by.
enum class Goal {
  kNone,            // informational
  kRatioAtMost,     // time / baseline_time <= target   (e.g. pack vs memcpy)
  kSpeedupAtLeast,  // baseline_time / time >= target   (e.g. top-k vs nth_element)
};

struct BenchResult {
  std::string group;     // "pack", "vote", ...
  std::size_t n = 0;     // coordinates
  std::string param;     // "M=10", "K=1%", or ""
  std::string variant;   // kernel variant name
  bool best = false;     // the variant best_sign_kernels() picks (targets apply to it)
  Timing time;           // the operation
  std::string baseline;  // what the baseline does, e.g. "memcpy 4N B"
  Timing baseline_time;  // the baseline, same run
  Goal goal = Goal::kNone;
  double target = 0;
  std::string note;      // extra facts printed after the row (e.g. bits per entry)

  double ratio() const { return time.min_s / baseline_time.min_s; }
  double speedup() const { return baseline_time.min_s / time.min_s; }
  bool pass() const {
    switch (goal) {
      case Goal::kRatioAtMost: return ratio() <= target;
      case Goal::kSpeedupAtLeast: return speedup() >= target;
      case Goal::kNone: break;
    }
    return true;
  }
};

struct BenchConfig {
  std::vector<std::size_t> sizes;  // N values to run
  TimerConfig timer;
};

using BenchGroupFn = void (*)(const BenchConfig& config, std::vector<BenchResult>& results);

struct BenchGroup {
  const char* name;
  const char* summary;  // one line for --help / --list
  BenchGroupFn run;
};

// Every group, in run order (bench_groups.cc).
std::span<const BenchGroup> bench_groups();

}  // namespace signfed::bench
