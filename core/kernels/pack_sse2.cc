// SSE2 pack/unpack (baseline on x86-64).
#include <emmintrin.h>

#include <array>
#include <cstring>

#include "core/kernels/internal/pack_tail.h"

namespace signfed::kernels {
namespace {

// Unpack table: nibble -> four floats (+1 clear, -1 set), LSB first.
constexpr std::array<std::array<float, 4>, 16> make_nibble_table() {
  std::array<std::array<float, 4>, 16> t{};
  for (unsigned v = 0; v < 16; ++v)
    for (unsigned b = 0; b < 4; ++b) t[v][b] = ((v >> b) & 1u) ? -1.0f : 1.0f;
  return t;
}
alignas(16) constexpr std::array<std::array<float, 4>, 16> kNibbleToSigns = make_nibble_table();

}  // namespace

void pack_signs_f32__sse2(std::span<const float> x, std::span<std::uint8_t> out) {
  const std::size_t n = x.size();
  const float* p = x.data();
  std::uint8_t* o = out.data();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Saturating packs keep each lane's sign: 16 floats -> 16 sign bytes -> 16 bits.
    const __m128i a = _mm_castps_si128(_mm_loadu_ps(p + i + 0));
    const __m128i b = _mm_castps_si128(_mm_loadu_ps(p + i + 4));
    const __m128i c = _mm_castps_si128(_mm_loadu_ps(p + i + 8));
    const __m128i d = _mm_castps_si128(_mm_loadu_ps(p + i + 12));
    const __m128i bytes = _mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
    const auto bits = static_cast<std::uint16_t>(_mm_movemask_epi8(bytes));
    std::memcpy(o + i / 8, &bits, sizeof bits);
  }
  pack_signs_tail(p, i, n, o);
}

void unpack_signs_f32__sse2(std::span<const std::uint8_t> bits, std::span<float> out) {
  const std::size_t n = out.size();
  const std::uint8_t* b = bits.data();
  float* o = out.data();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const unsigned byte = b[i / 8];
    _mm_storeu_ps(o + i, _mm_load_ps(kNibbleToSigns[byte & 15u].data()));
    _mm_storeu_ps(o + i + 4, _mm_load_ps(kNibbleToSigns[byte >> 4].data()));
  }
  unpack_signs_tail(b, i, n, o);
}

}  // namespace signfed::kernels
