// GuardedStep: Safaryan Alg. 1 Option 2 (keep x_{k+1} only if f does not
// rise), federated: f is the participants' summed loss on their fixed batches.
#include "core/methods/strategies.h"

namespace signfed::methods {

bool Strategy::confirm(std::span<const LossReport>, core::Replica&) const { return true; }

Tally Strategy::empty_tally(std::uint32_t) const {
  throw codec::CodecError("this method's aggregate has no partial tally (--aggregate median or trimmed need every packet)");
}
void Strategy::fold(Tally&, const Counted&) const { empty_tally(0); }
Aggregate Strategy::aggregate(std::uint32_t, const Tally&, float, core::Replica&) const {
  empty_tally(0);
  return {};
}

Aggregate GuardedStep::aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                                 core::Replica& replica) const {
  replica.save();  // what confirm() returns to if the step does not hold
  return inner_->aggregate(round, counted, step, replica);
}

Aggregate GuardedStep::aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const {
  replica.save();
  return inner_->aggregate(round, tally, step, replica);
}

bool GuardedStep::confirm(std::span<const LossReport> reports, core::Replica& replica) const {
  double before = 0.0, after = 0.0;
  for (const LossReport& r : reports) {
    before += r.before;
    after += r.after;
  }
  // No report in time: nothing says the step hurt, keep it (as the clients do).
  const bool keep = reports.empty() || after <= before;
  if (!keep) replica.roll_back();
  return keep;
}

}  // namespace signfed::methods
