// Scalar reference for pack/unpack: one coordinate at a time.
#include <bit>
#include <cstring>

#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {

void pack_signs_f32__scalar(std::span<const float> x, std::span<std::uint8_t> out) {
  const std::size_t n = x.size();
  for (std::size_t byte = 0; byte < packed_bytes(n); ++byte) {
    unsigned v = 0;
    for (std::size_t bit = 0; bit < 8 && byte * 8 + bit < n; ++bit) {
      // Sign bit through the integer view: -0.0f packs as set, no float compare.
      v |= (std::bit_cast<std::uint32_t>(x[byte * 8 + bit]) >> 31) << bit;
    }
    out[byte] = static_cast<std::uint8_t>(v);
  }
}

void unpack_signs_f32__scalar(std::span<const std::uint8_t> bits, std::span<float> out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = ((bits[i / 8] >> (i % 8)) & 1u) ? -1.0f : 1.0f;
  }
}

}  // namespace signfed::kernels
