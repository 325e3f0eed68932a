// Straggler policies: which updates of a round count, and when a round closes.
//
// Policies (CLI --policy):
//   all           wait for every selected client (bounded by --round-timeout)
//   deadline      count what arrived within --round-timeout
//   adaptive:Q    deadline = 1.2 x the Q-quantile of recent counted latencies
//                 (last kHistoryRounds rounds; --round-timeout until there is history)
//   overselect:E  select E clients more than needed, keep the first (selected - E)
// Late updates are logged as late and not counted.
//
// In real time the coordinator applies these while collecting. Under
// --virtual-time it collects every update and calls admit_virtual() with the
// clients' simulated latencies, so methods compare on simulated time.
// Pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace signfed::coord {

struct StragglerPolicy {
  enum class Kind { all, deadline, adaptive, overselect };
  Kind kind = Kind::deadline;
  double quantile = 0.9;      // adaptive
  std::uint32_t extra = 0;    // overselect

  std::string name() const;
};

// Parses "all", "deadline", "adaptive:0.9", "overselect:2"; throws std::invalid_argument.
StragglerPolicy parse_policy(std::string_view text);

inline constexpr std::size_t kHistoryRounds = 5;

// Latencies (ms) of counted updates over the last kHistoryRounds rounds.
class LatencyHistory {
 public:
  void add_round(std::vector<double> latencies_ms);
  std::vector<double> all() const;
  bool empty() const { return rounds_.empty(); }

 private:
  std::deque<std::vector<double>> rounds_;
};

// The deadline (ms after the task) the policy sets for the next round.
double round_deadline_ms(const StragglerPolicy& p, const LatencyHistory& h, double timeout_ms);

// How many updates close the round early (all selected unless overselect).
std::size_t updates_needed(const StragglerPolicy& p, std::size_t selected);

struct Arrival {
  std::uint32_t client = 0;
  double latency_ms = 0.0;
};

struct Admission {
  std::vector<std::uint32_t> counted;
  std::vector<std::uint32_t> late;
  double round_ms = 0.0;   // simulated round duration
};

// Virtual-time admission of the updates that arrived (any order).
Admission admit_virtual(const StragglerPolicy& p, std::vector<Arrival> arrivals, std::size_t selected,
                        double deadline_ms);

}  // namespace signfed::coord
