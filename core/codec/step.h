// Applying an aggregated direction to a model replica, and the model digest.
//
// The coordinator and every edge client call these same functions on the same
// inputs, so their replicas stay bit-identical: each coordinate update is a
// fixed sequence of IEEE float operations (the project builds with
// -ffp-contract=off, so no FMA contraction changes the rounding on any ISA).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/codec/packet.h"

namespace signfed::codec {

// x <- x - step * s, s in {-1,0,+1}^n  (S3GD-MV eq. (7); Safaryan Alg. 2 line 8).
void apply_sign_step(std::span<float> x, const TernarySigns& s, float step);

// v <- mu * v + s; x <- x - step * v  (S3GD-MV eqs. (25)-(26)).
void apply_momentum_step(std::span<float> x, std::span<float> v, const TernarySigns& s, float mu, float step);

// x <- x - step * u (mean-aggregated methods).
void apply_dense_step(std::span<float> x, std::span<const float> u, float step);

// The digest's starting state for one architecture: 64-bit FNV-1a over the
// bytes of its spec text (model::Model::spec(): a preset name or a model
// file's canonical JSON). Replicas of different architectures then never
// agree, even with equal parameter vectors.
std::uint64_t architecture_basis(std::string_view spec);

// 64-bit FNV-1a over the little-endian bytes of the floats, 4 at a time,
// continued from `basis` (architecture_basis of the model's spec; FORMAT.md
// "Model digest"). For replica agreement, not for security.
std::uint64_t model_digest(std::span<const float> x, std::uint64_t basis);

}  // namespace signfed::codec
