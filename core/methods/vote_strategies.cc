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

namespace {

// The round's result from its vote: statistics, momentum, the step on the replica, the packet.
Aggregate finish(VoteOutcome v, bool momentum, float mu, float step, core::Replica& replica) {
  Aggregate a;
  a.coords_moved = v.stats.moved;
  a.ties = v.stats.ties;
  nlohmann::json hist = nlohmann::json::array();
  for (auto h : v.stats.margin_hist) hist.push_back(h);
  a.margin_hist = hist.dump();
  a.agreement = std::move(v.agreement);  // agreement_with_vote, from the vote's own decode
  if (momentum) a.momentum = mu;  // S3GD-MV eqs. (25)-(26)
  replica.apply_signs(v.signs, step, a.momentum);
  a.result = codec::encode_ternary_best(v.signs);
  return a;
}

}  // namespace

Aggregate VoteStrategy::aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                                  core::Replica& replica) const {
  std::vector<codec::PacketView> views;
  for (const Counted& c : counted) views.push_back(c.packet);
  const std::uint64_t tie_seed = data::mix_seed(cfg_.seed, round, 0x71e);
  return finish(vote(views, static_cast<std::uint32_t>(replica.size()), tie_seed), uses_momentum(),
                cfg_.method.momentum, step, replica);
}

void VoteStrategy::fold(Tally& tally, const Counted& update) const {
  auto* t = std::get_if<VoteTally>(&tally);
  if (!t) throw codec::CodecError("a vote method folds into a vote tally, not a mean tally");
  t->add(update.packet);
}

Aggregate VoteStrategy::aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const {
  const auto* t = std::get_if<VoteTally>(&tally);
  if (!t) throw codec::CodecError("a vote method aggregates a vote tally, not a mean tally");
  if (t->dim != replica.size()) throw codec::CodecError("vote tally has the wrong dimension");
  const std::uint64_t tie_seed = data::mix_seed(cfg_.seed, round, 0x71e);
  return finish(decide(*t, kind(), cfg_.method.tie_rule, tie_seed), uses_momentum(), cfg_.method.momentum, step,
                replica);
}

}  // namespace signfed::methods
