// DenseVote (signsgd, signum) and SparseVote (s3gd, randk).
#include <nlohmann/json.hpp>

#include "coordinator/strategy/strategies.h"
#include "coordinator/vote.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::coord {

bool is_exact_sign_coding(wire::Encoding e) {
  return e == wire::Encoding::dense_sign || e == wire::Encoding::runs_sign || e == wire::Encoding::sparse_sign ||
         e == wire::Encoding::ternary;
}

bool VoteStrategy::accepts(wire::Encoding e) const { return is_exact_sign_coding(e); }

bool VoteStrategy::uses_momentum() const { return cfg_.uses_momentum(); }

Aggregate VoteStrategy::aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                                  core::Replica& replica) const {
  std::vector<codec::PacketView> views;
  for (const Counted& c : counted) views.push_back(c.packet);
  const std::uint64_t tie_seed = data::mix_seed(cfg_.seed, round, 0x71e);
  const VoteOutcome v = vote(views, static_cast<std::uint32_t>(replica.size()), tie_seed);
  Aggregate a;
  a.coords_moved = v.stats.moved;
  a.ties = v.stats.ties;
  nlohmann::json hist = nlohmann::json::array();
  for (auto h : v.stats.margin_hist) hist.push_back(h);
  a.margin_hist = hist.dump();
  a.agreement = agreement_with_vote(views, v.signs);
  if (uses_momentum()) a.momentum = cfg_.method.momentum;  // S3GD-MV eqs. (25)-(26)
  replica.apply_signs(v.signs, step, a.momentum);
  a.result = codec::encode_ternary_best(v.signs);
  return a;
}

VoteOutcome DenseVote::vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const {
  return majority_vote_dense(views, dim, cfg_.method.tie_rule, tie_seed, kernels::best_sign_kernels());
}

VoteOutcome SparseVote::vote(std::span<const codec::PacketView> views, std::uint32_t dim,
                             std::uint64_t tie_seed) const {
  return majority_vote_sparse(views, dim, cfg_.method.tie_rule, tie_seed);
}

}  // namespace signfed::coord
