// AVX2 pack/unpack (compiled with -mavx2; called only on AVX2 CPUs).
#include <immintrin.h>

#include <cstring>

#include "core/kernels/internal/pack_tail.h"

namespace signfed::kernels {

void pack_signs_f32__avx2(std::span<const float> x, std::span<std::uint8_t> out) {
  const std::size_t n = x.size();
  const float* p = x.data();
  std::uint8_t* o = out.data();
  // packs work within 128-bit lanes: after two packs the 32-bit groups are
  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7; this puts them back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    std::uint32_t half[2];
    for (int h = 0; h < 2; ++h) {
      const float* q = p + i + 32 * h;
      const __m256i a = _mm256_castps_si256(_mm256_loadu_ps(q + 0));
      const __m256i b = _mm256_castps_si256(_mm256_loadu_ps(q + 8));
      const __m256i c = _mm256_castps_si256(_mm256_loadu_ps(q + 16));
      const __m256i d = _mm256_castps_si256(_mm256_loadu_ps(q + 24));
      // Saturating packs keep each lane's sign bit.
      const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
      half[h] = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_permutevar8x32_epi32(bytes, order)));
    }
    std::memcpy(o + i / 8, half, sizeof half);
  }
  for (; i + 8 <= n; i += 8) o[i / 8] = static_cast<std::uint8_t>(_mm256_movemask_ps(_mm256_loadu_ps(p + i)));
  pack_signs_tail(p, i, n, o);
}

void unpack_signs_f32__avx2(std::span<const std::uint8_t> bits, std::span<float> out) {
  const std::size_t n = out.size();
  const std::uint8_t* b = bits.data();
  float* o = out.data();
  // Variable shifts move bit j of a broadcast 32-bit word to the sign position.
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i one = _mm256_castps_si256(_mm256_set1_ps(1.0f));
  const __m256i s0 = _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24);
  const __m256i s8 = _mm256_set1_epi32(8);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint32_t word;
    std::memcpy(&word, b + i / 8, sizeof word);
    const __m256i w = _mm256_set1_epi32(static_cast<int>(word));
    __m256i s = s0;
    for (int q = 0; q < 4; ++q) {
      const __m256i f = _mm256_or_si256(_mm256_and_si256(_mm256_sllv_epi32(w, s), sign), one);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i + 8 * q), f);
      s = _mm256_sub_epi32(s, s8);
    }
  }
  unpack_signs_tail(b, i, n, o);
}

}  // namespace signfed::kernels
