// Mean (stochsign, efsign, fedsgd) and FedAvg.
#include <algorithm>

#include "coordinator/strategy/strategies.h"
#include "coordinator/vote.h"

namespace signfed::coord {

bool Mean::accepts(wire::Encoding e) const {
  switch (method()) {
    case wire::Method::stochsign:  // +-1 everywhere (Safaryan Def. 3)
      return e == wire::Encoding::dense_sign;
    case wire::Method::efsign:  // scaled ternary signs
      return is_exact_sign_coding(e);
    default:
      return e == wire::Encoding::float32;
  }
}

Aggregate Mean::aggregate(std::uint32_t, std::span<const Counted> counted, float step, core::Replica& replica) const {
  // McMahan et al.: weight each client by its local sample count (or uniformly).
  std::vector<codec::PacketView> views;
  std::vector<double> weights;
  for (const Counted& c : counted) {
    views.push_back(c.packet);
    weights.push_back(cfg_.weighting == Weighting::samples ? c.samples : 1.0);
  }
  if (std::all_of(weights.begin(), weights.end(), [](double w) { return w == 0.0; }))
    std::fill(weights.begin(), weights.end(), 1.0);  // nobody said how many samples it has
  const std::vector<float> mean = mean_aggregate(views, weights, static_cast<std::uint32_t>(replica.size()));
  replica.apply_mean(mean, step);
  Aggregate a;
  a.coords_moved = static_cast<std::uint64_t>(std::count_if(mean.begin(), mean.end(), [](float x) { return x != 0.0f; }));
  a.result = codec::encode_float32(mean);
  return a;
}

// The schedule's rate is the clients' local SGD step; the model moves by
// server_lr times the mean delta.
TaskPlan FedAvg::plan(std::uint32_t round) const { return {cfg_.server_lr, cfg_.step_at(round)}; }

}  // namespace signfed::coord
