// The concrete strategies (strategy.h says which method uses which).
#pragma once

#include "coordinator/strategy/strategy.h"
#include "coordinator/vote.h"

namespace signfed::coord {

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

 protected:
  virtual VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim,
                           std::uint64_t tie_seed) const = 0;
};

class DenseVote final : public VoteStrategy {
 public:
  using VoteStrategy::VoteStrategy;

 private:
  VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const override;
};

class SparseVote final : public VoteStrategy {
 public:
  using VoteStrategy::VoteStrategy;

 private:
  VoteOutcome vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const override;
};

class Mean : public Strategy {
 public:
  using Strategy::Strategy;
  bool accepts(wire::Encoding e) const override;
  Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                      core::Replica& replica) const override;
};

class FedAvg final : public Mean {
 public:
  using Mean::Mean;
  TaskPlan plan(std::uint32_t round) const override;
};

}  // namespace signfed::coord
