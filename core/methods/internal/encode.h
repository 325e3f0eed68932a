// Each method's client-side compressor, defined in that method's file
// (dense_vote.cc, sparse_vote.cc, mean.cc) and dispatched by registry.cc.
// Preconditions (checked by UpdateEncoder::encode): g.size() == s.dim, g finite.
#pragma once

#include <cstdint>
#include <span>

#include "core/codec/packet.h"
#include "core/methods/encoder.h"

namespace signfed::methods::internal {

// Throws codec::CodecError naming the first NaN or Inf coordinate of x.
void check_finite(std::span<const float> x);

codec::SignPacket encode_signs(std::span<const float> g);                                         // signsgd, signum
codec::SignPacket encode_topk(EncoderState& s, std::span<const float> g, const MethodConfig& cfg);  // s3gd
codec::SignPacket encode_randk(EncoderState& s, std::span<const float> g, const MethodConfig& cfg,
                               std::uint64_t seed);                                                // randk
codec::SignPacket encode_stochastic(EncoderState& s, std::span<const float> g, std::uint64_t seed);  // stochsign
codec::SignPacket encode_scaled_ef(EncoderState& s, std::span<const float> g, const MethodConfig& cfg);  // efsign

// The method's compressor (registry.cc: the one table of methods).
codec::SignPacket encode_update(EncoderState& s, std::span<const float> g, const MethodConfig& cfg,
                                std::uint64_t seed);

}  // namespace signfed::methods::internal
