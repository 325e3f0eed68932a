// One model replica: the parameters every participant holds, the momentum on
// the vote, and the digest that proves two replicas equal.
//
// The coordinator, every edge client and signfed-load each hold one and apply
// every round's broadcast result through apply(). Equal inputs give equal bits
// on every ISA (core/codec/step.h: fixed IEEE operations, no FMA contraction),
// which is what lets a digest stand for the whole model.
//
// Layout and ownership: the parameters are the model's flat vector
// (core/model/model.h) and stay owned by the model, which trains against
// them; a Replica views them (the span must outlive it) and owns the
// momentum and the guarded step's saved copy.
// Thread-safety: none; one owner thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/codec/packet.h"

namespace signfed::core {

class Replica {
 public:
  // basis: codec::architecture_basis of the model's spec (the digest covers the architecture).
  Replica(std::span<float> params, std::uint64_t basis) : params_(params), basis_(basis) {}

  std::span<const float> params() const { return params_; }
  // Empty until the first momentum step, enable_momentum() or assign() with momentum.
  std::span<const float> momentum() const { return momentum_; }
  std::size_t size() const { return params_.size(); }
  // 64-bit FNV-1a of the architecture and the parameters (FORMAT.md "Model digest"), computed on
  // each call: O(N), about 0.1 ms for the default MLP.
  std::uint64_t digest() const;

  // Applies one round's result, as broadcast in VoteResult:
  //   sign packets   x <- x - step*s                      (S3GD-MV eq. (7); Safaryan Alg. 2)
  //                  or, when mu != 0 or momentum exists,
  //                  v <- mu*v + s; x <- x - step*v       (S3GD-MV eqs. (25)-(26))
  //   float32        x <- x - step*u                      (fedsgd, efsign, fedavg)
  // The packet is validated against size() first; on codec::CodecError the
  // replica is unchanged.
  void apply(const codec::PacketView& result, float step, float mu);
  // The same, decoding into buffers the caller keeps between rounds (no
  // allocation once they are sized: the edge's per-round loop).
  struct DecodeBuffers {
    codec::CodecScratch scratch;
    codec::TernarySigns signs;
    std::vector<float> mean;
  };
  void apply(const codec::PacketView& result, float step, float mu, DecodeBuffers& buffers);
  void apply_signs(const codec::TernarySigns& s, float step, float mu);
  void apply_mean(std::span<const float> u, float step);

  // Zero momentum from the start (the coordinator, for methods that use it),
  // so that the first snapshot already carries it.
  void enable_momentum();
  // Replaces parameters and momentum (a snapshot, a checkpoint). Empty
  // momentum: none. Throws std::invalid_argument on a size mismatch.
  void assign(std::span<const float> params, std::span<const float> momentum);

  // The guarded step (Safaryan Alg. 1 Option 2): save() before the tentative
  // step, roll_back() if it is refused. Buffers are reused across rounds.
  void save();
  void roll_back();
  std::span<const float> saved_params() const { return saved_params_; }

 private:
  std::span<float> params_;
  std::uint64_t basis_;
  std::vector<float> momentum_;
  std::vector<float> saved_params_, saved_momentum_;
  bool saved_ = false;
};

}  // namespace signfed::core
