// A relay's part in federated evaluation: the EvalReports of its children for
// the one round whose VoteResult asked for them, each verified as the
// coordinator verifies a client's, summed into the one EvalReport the relay
// sends up -- its subtree's loss sum, correct count and samples (FORMAT.md
// "Relays"). A sum of sums is the flat run's sum, so the coordinator's
// sample-weighted fed_loss and fed_accuracy are those of the flat federation.
// Pure: no I/O, no clock; the Relay sends, logs and asks ready() with its time.
//
//   open(round, expected, deadline)  a VoteResult asked for evaluation; expected:
//                                    the children it was forwarded to. Whatever an
//                                    open round holds must be taken first.
//   offer(child, report, bound)      nullopt: counted; else the refusal to answer
//   ready(now)                       every expected child answered, or the deadline came
//   take()                           the sums and each child's row (for the relay's own
//                                    log); closes the round. Late reports are then refused.
//
// Not thread-safe; one per Relay.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "coordinator/inbound_checks.h"
#include "coordinator/round_log.h"
#include "schema/wire.h"

namespace signfed::relay {

class EvalSum {
 public:
  struct Sums {
    std::uint32_t round = 0;
    double loss_sum = 0.0;
    std::uint64_t correct = 0, samples = 0;
    std::vector<coord::EvalRow> rows;  // the children with a hold-out (samples > 0)
  };

  void open(std::uint32_t round, std::set<std::uint32_t> expected, double deadline_s);
  bool is_open() const { return open_; }
  std::optional<coord::Refusal> offer(std::uint32_t child_id, const wire::EvalReport& m, std::uint64_t max_samples);
  bool ready(double now_s) const;
  Sums take();

 private:
  bool open_ = false;
  std::set<std::uint32_t> expected_, answered_;
  double deadline_s_ = 0.0;
  Sums sums_;
};

}  // namespace signfed::relay
