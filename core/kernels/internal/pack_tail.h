// Private: scalar tails shared by the SIMD pack/unpack files. Internal
// linkage (see vote_bitsliced.h for why).
#pragma once

#include <bit>

#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {
namespace {

// Packs x[i..n) into out from byte i/8 on (i a multiple of 8); pad bits 0.
inline void pack_signs_tail(const float* x, std::size_t i, std::size_t n, std::uint8_t* out) {
  for (; i < n; i += 8) {
    unsigned v = 0;
    for (std::size_t b = 0; b < 8 && i + b < n; ++b) v |= (std::bit_cast<std::uint32_t>(x[i + b]) >> 31) << b;
    out[i / 8] = static_cast<std::uint8_t>(v);
  }
}

// Unpacks coordinates [i, n) of bits into out.
inline void unpack_signs_tail(const std::uint8_t* bits, std::size_t i, std::size_t n, float* out) {
  for (; i < n; ++i) out[i] = ((bits[i / 8] >> (i % 8)) & 1u) ? -1.0f : 1.0f;
}

}  // namespace
}  // namespace signfed::kernels
