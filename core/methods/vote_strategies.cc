// What DenseVote and SparseVote share: the encodings they accept, momentum on
// the vote, and aggregate() around their vote().
#include <nlohmann/json.hpp>

#include "core/data/rng.h"
#include "core/methods/strategies.h"

namespace signfed::methods {

bool is_exact_sign_coding(wire::Encoding e) {
  return e == wire::Encoding::dense_sign || e == wire::Encoding::runs_sign || e == wire::Encoding::sparse_sign ||
         e == wire::Encoding::ternary;
}

bool VoteStrategy::accepts(wire::Encoding e) const { return is_exact_sign_coding(e); }

bool VoteStrategy::uses_momentum() const { return methods::uses_momentum(cfg_.method); }

Aggregate VoteStrategy::aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                                  core::Replica& replica) const {
  std::vector<codec::PacketView> views;
  for (const Counted& c : counted) views.push_back(c.packet);
  const std::uint64_t tie_seed = data::mix_seed(cfg_.seed, round, 0x71e);
  VoteOutcome v = vote(views, static_cast<std::uint32_t>(replica.size()), tie_seed);
  Aggregate a;
  a.coords_moved = v.stats.moved;
  a.ties = v.stats.ties;
  nlohmann::json hist = nlohmann::json::array();
  for (auto h : v.stats.margin_hist) hist.push_back(h);
  a.margin_hist = hist.dump();
  a.agreement = std::move(v.agreement);  // agreement_with_vote, from the vote's own decode
  if (uses_momentum()) a.momentum = cfg_.method.momentum;  // S3GD-MV eqs. (25)-(26)
  replica.apply_signs(v.signs, step, a.momentum);
  a.result = codec::encode_ternary_best(v.signs);
  return a;
}

}  // namespace signfed::methods
