// A Strategy is everything method-specific on the coordinator's side of a
// round (Flower's Strategy: configure -> aggregate): what the task tells the
// clients, which packet encodings their updates may use, and how the counted
// updates become the round's result and move the model.
//
//   DenseVote   signsgd, signum      sign of the sum over all coordinates (Safaryan Alg. 2)
//   SparseVote  s3gd, randk          vote over the union of supports (S3GD-MV Sec. 2.2)
//   Mean        stochsign, efsign,   sample-weighted mean of the clients' vectors
//               fedsgd
//   FedAvg      fedavg               Mean of model deltas; the task carries the clients' local rate
//
// The vote strategies keep momentum on the voted signs when the run asks for
// it (S3GD-MV eqs. (25)-(26)). A strategy holds the run's configuration and
// no per-round state: aggregate() is a function of its arguments.
// Adding a method: docs/ARCHITECTURE.md ("Adding a method").
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "coordinator/config.h"
#include "core/codec/packet.h"
#include "core/replica/replica.h"

namespace signfed::coord {

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
};

class Strategy {
 public:
  explicit Strategy(const CoordinatorConfig& cfg) : cfg_(cfg) {}
  virtual ~Strategy() = default;

  wire::Method method() const { return cfg_.method.method; }
  // Encodings this method's clients send; anything else is rejected.
  virtual bool accepts(wire::Encoding e) const = 0;
  // The step of round `round` under the run's schedule.
  virtual TaskPlan plan(std::uint32_t round) const { return {cfg_.step_at(round), 0.0f}; }
  // Whether every replica keeps a momentum buffer from the start.
  virtual bool uses_momentum() const { return false; }
  // Combines `counted` (at least one) into the round's result and applies it
  // to `replica` with step `plan(round).step`.
  virtual Aggregate aggregate(std::uint32_t round, std::span<const Counted> counted, float step,
                              core::Replica& replica) const = 0;

 protected:
  const CoordinatorConfig& cfg_;
};

// The strategy of cfg.method (cfg must outlive it).
std::unique_ptr<Strategy> make_strategy(const CoordinatorConfig& cfg);

}  // namespace signfed::coord
