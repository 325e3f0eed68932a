// The concrete strategies (strategy.h says which method uses which). Internal
// to core/methods: everything else makes them through make_strategy().
#pragma once

#include <memory>

#include "core/methods/strategy.h"
#include "core/methods/vote.h"

namespace signfed::methods {

// Ternary signs (sign(0) = 0: the client abstains) in whichever exact coding
// is smallest: dense_sign, runs_sign, sparse_sign or ternary.
bool is_exact_sign_coding(wire::Encoding e);

class VoteStrategy : public Strategy {
 public:
  using Strategy::Strategy;
  bool accepts(wire::Encoding e) const override;
  bool uses_momentum() const override;
  Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                      core::Replica& replica) const override;
  bool tallies() const override { return true; }
  Tally empty_tally(std::uint32_t dim) const override { return VoteTally(dim); }
  void fold(Tally& tally, const Counted& update) const override;
  Aggregate aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const override;

 protected:
  // Which vote's statistics a tally's decision reproduces.
  virtual VoteKind kind() const = 0;
  virtual VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim,
                           std::uint64_t tie_seed) const = 0;
};

class DenseVote final : public VoteStrategy {
 public:
  using VoteStrategy::VoteStrategy;

 private:
  VoteKind kind() const override { return VoteKind::dense; }
  VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const override;
};

class SparseVote final : public VoteStrategy {
 public:
  using VoteStrategy::VoteStrategy;

 private:
  VoteKind kind() const override { return VoteKind::sparse; }
  VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const override;
};

class Mean : public Strategy {
 public:
  using Strategy::Strategy;
  bool accepts(wire::Encoding e) const override;
  Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                      core::Replica& replica) const override;
  bool tallies() const override { return cfg_.aggregate.rule == AggregateRule::mean; }
  Tally empty_tally(std::uint32_t dim) const override { return MeanTally(dim); }
  void fold(Tally& tally, const Counted& update) const override;
  Aggregate aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const override;

 private:
  // Applies x <- x - step * mean, or refuses it (Aggregate::refused); `mean`
  // empty: the tally was out of its exact range.
  Aggregate apply(std::vector<float> mean, float step, core::Replica& replica) const;
};

class FedAvg final : public Mean {
 public:
  using Mean::Mean;
  TaskPlan plan(float scheduled) const override;
};

// Safaryan Alg. 1 Option 2, federated: the inner strategy's step is kept only
// if the participants' summed loss on their fixed batches does not rise.
class GuardedStep final : public Strategy {
 public:
  GuardedStep(StrategyConfig cfg, std::unique_ptr<Strategy> inner) : Strategy(cfg), inner_(std::move(inner)) {}
  bool accepts(wire::Encoding e) const override { return inner_->accepts(e); }
  TaskPlan plan(float scheduled) const override { return inner_->plan(scheduled); }
  bool uses_momentum() const override { return inner_->uses_momentum(); }
  Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                      core::Replica& replica) const override;
  bool tallies() const override { return inner_->tallies(); }
  Tally empty_tally(std::uint32_t dim) const override { return inner_->empty_tally(dim); }
  void fold(Tally& tally, const Counted& update) const override { inner_->fold(tally, update); }
  Aggregate aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const override;
  bool confirms() const override { return true; }
  bool confirm(std::span<const LossReport> reports, core::Replica& replica) const override;

 private:
  std::unique_ptr<Strategy> inner_;
};

}  // namespace signfed::methods
