// Byzantine suspicion on the vote methods: per client, the running mean of its
// disagreement with the vote outcome (1 - agreement, core/methods/vote.h); a
// client far above the others -- median + k * max(1.4826 * MAD, 0.01) over
// the clients with at least min_rounds counted updates, and at least 5 such
// clients -- is flagged once. The caller logs and prints the flag.
// Thread-safety: none. Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace signfed::coord {

class SuspicionMonitor {
 public:
  SuspicionMonitor(double mads, std::uint32_t min_rounds) : mads_(mads), min_rounds_(min_rounds) {}

  struct Flag {
    std::uint32_t client_id = 0;
    double mean = 0.0, median = 0.0, mad = 0.0, threshold = 0.0;
    std::uint32_t rounds = 0;
    std::string detail() const;  // one line for the event row
  };
  // One round's agreement per counted client; returns the clients newly flagged.
  std::vector<Flag> observe(std::span<const std::uint32_t> ids, std::span<const double> agreement);

 private:
  struct Stats {
    double disagree_sum = 0.0;
    std::uint32_t n = 0;
    bool flagged = false;
  };
  double mads_;
  std::uint32_t min_rounds_;
  std::map<std::uint32_t, Stats> stats_;
};

}  // namespace signfed::coord
