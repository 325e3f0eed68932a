// The server half of every method (Flower's Strategy: configure -> aggregate):
// what the task tells the clients, which packet encodings their updates may
// use, how the counted updates become the round's result and move the model,
// and, for the guarded step, whether the applied result is kept.
//
//   DenseVote    signsgd, signum      sign of the sum over all coordinates (Safaryan Alg. 2)
//   SparseVote   s3gd, randk          vote over the union of supports (S3GD-MV Sec. 2.2)
//   Mean         stochsign, efsign,   sample-weighted mean of the clients' vectors (or their
//                fedsgd               coordinate-wise median / trimmed mean, each maybe L2-clipped);
//                                     a non-finite or overflowing step is refused, not applied
//   FedAvg       fedavg               Mean of model deltas; the task carries the clients' local rate
//   GuardedStep  any (wrapper)        keeps a step only if the participants' loss does not rise
//                                     (Safaryan Alg. 1 Option 2, federated)
//
// The vote strategies keep momentum on the voted signs when the run asks for
// it (S3GD-MV eqs. (25)-(26)). A strategy holds the run's configuration and
// no per-round state: aggregate() and confirm() are functions of their
// arguments, so one strategy may serve several rounds or threads at once.
// Adding a method: docs/ARCHITECTURE.md ("Adding a method").
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/methods/method.h"
#include "core/methods/tally.h"
#include "core/methods/vote.h"
#include "core/replica/replica.h"

namespace signfed::methods {

// How mean-aggregated methods weight their clients.
enum class Weighting {
  samples,  // by each client's local sample count (McMahan et al. 2017; Flower's FedAvg)
  uniform,  // every counted client alike
};

// What the strategies read of the run's configuration.
struct StrategyConfig {
  MethodConfig method;
  std::uint64_t seed = 1;                    // tie-break draws (TieRule::random)
  Weighting weighting = Weighting::samples;  // mean methods
  float server_lr = 1.0f;                    // fedavg: server step on the mean model delta
  AggregateOptions aggregate;                // mean methods: --aggregate, --clip (vote.h)
  bool guarded_step = false;                 // wrap the method's strategy in GuardedStep
};

// What RoundTask says about the step, for one round.
struct TaskPlan {
  float step = 0.0f;      // RoundTask/VoteResult.step_size: the server's step
  float local_lr = 0.0f;  // MethodParams.local_lr: the clients' local SGD rate (fedavg), else 0
};

// One counted update.
struct Counted {
  std::uint32_t client_id = 0;
  codec::PacketView packet;   // validated against the model's dimension
  double samples = 0.0;       // the client's local sample count (Join)
};

// The round's result, applied to the replica by aggregate().
struct Aggregate {
  codec::SignPacket result;           // what VoteResult carries
  float momentum = 0.0f;              // VoteResult.momentum
  std::uint64_t coords_moved = 0, ties = 0;
  std::string margin_hist;            // JSON array (vote methods; empty otherwise)
  std::vector<double> agreement;      // per counted update, in order (vote methods; empty otherwise)
  // Non-empty: the step was refused and not applied (mean methods: the
  // aggregate had a non-finite coordinate or an L2 norm above FLT_MAX, or the
  // model would have become non-finite). The replica is as before and
  // `result` is all zeros, so every replica stays equal. Says why.
  std::string refused;
  double refused_norm = 0.0;          // the refused aggregate's L2 norm, in double
};

// One participant's GuardReport: its loss on its fixed batch before and after the applied step.
struct LossReport {
  std::uint32_t client_id = 0;
  double before = 0.0, after = 0.0;
};

class Strategy {
 public:
  explicit Strategy(StrategyConfig cfg) : cfg_(cfg) {}
  virtual ~Strategy() = default;

  wire::Method method() const { return cfg_.method.method; }
  // Encodings this method's clients send; anything else is rejected.
  virtual bool accepts(wire::Encoding e) const = 0;
  // The task's step for a round whose scheduled step size is `scheduled`.
  virtual TaskPlan plan(float scheduled) const { return {scheduled, 0.0f}; }
  // Whether every replica keeps a momentum buffer from the start.
  virtual bool uses_momentum() const { return false; }
  // Combines `counted` (at least one) into the round's result and applies it
  // to `replica` with step `step` (plan().step), or refuses it (Aggregate::refused).
  virtual Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                              core::Replica& replica) const = 0;

  // Partial tallies (tally.h), for relays and signfed-sim --mpi: whether this
  // method's aggregate can be formed from them (not so for --aggregate median
  // or trimmed), the empty tally of a `dim`-coordinate model, and folding one
  // counted update into a tally (CodecError if the packet does not fit it).
  // aggregate(round, tally, ...) on the tally of every counted update equals
  // aggregate(round, counted, ...) bit for bit, except that Aggregate::agreement
  // is left empty (each client's agreement is computed where its packet is).
  virtual bool tallies() const { return false; }
  virtual Tally empty_tally(std::uint32_t dim) const;
  virtual void fold(Tally& tally, const Counted& update) const;
  virtual Aggregate aggregate(std::uint32_t round, const Tally& tally, float step, core::Replica& replica) const;

  // Whether an applied result is tentative until the participants report
  // their loss before and after it (GuardReport), when confirm() decides.
  virtual bool confirms() const { return false; }
  // Keeps the step aggregate() applied, or rolls `replica` back to before it;
  // `reports` are those that arrived in time (maybe none). Returns whether it kept it.
  virtual bool confirm(std::span<const LossReport> reports, core::Replica& replica) const;

 protected:
  const StrategyConfig cfg_;
};

// The strategy of cfg.method, wrapped in GuardedStep if cfg.guarded_step.
std::unique_ptr<Strategy> make_strategy(const StrategyConfig& cfg);

}  // namespace signfed::methods
