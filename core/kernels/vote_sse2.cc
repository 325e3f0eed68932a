// SSE2 bit-sliced vote: 128 coordinates per word.
#include <emmintrin.h>

#include "core/kernels/internal/vote_bitsliced.h"

namespace signfed::kernels {
namespace {

struct Sse2Word {
  using V = __m128i;
  static constexpr std::size_t kBytes = 16;
  static V zero() { return _mm_setzero_si128(); }
  static V ones() { return _mm_set1_epi32(-1); }
  static V and_(V a, V b) { return _mm_and_si128(a, b); }
  static V or_(V a, V b) { return _mm_or_si128(a, b); }
  static V xor_(V a, V b) { return _mm_xor_si128(a, b); }
  static V andnot(V a, V b) { return _mm_andnot_si128(b, a); }
  static V load(const std::uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static void store(std::uint8_t* p, V x) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), x); }
  // SWAR byte popcount (no pshufb in SSE2), byte partial sums, psadbw to flush.
  struct Popcount {
    V bytes = _mm_setzero_si128();
    V sums = _mm_setzero_si128();  // two u64 lanes
    void add(V x) {
      const V m1 = _mm_set1_epi8(0x55), m2 = _mm_set1_epi8(0x33), m4 = _mm_set1_epi8(0x0f);
      x = _mm_sub_epi8(x, _mm_and_si128(_mm_srli_epi16(x, 1), m1));
      x = _mm_add_epi8(_mm_and_si128(x, m2), _mm_and_si128(_mm_srli_epi16(x, 2), m2));
      x = _mm_and_si128(_mm_add_epi8(x, _mm_srli_epi16(x, 4)), m4);
      bytes = _mm_add_epi8(bytes, x);
    }
    void flush() {
      sums = _mm_add_epi64(sums, _mm_sad_epu8(bytes, _mm_setzero_si128()));
      bytes = _mm_setzero_si128();
    }
    std::uint64_t total() const {
      alignas(16) std::uint64_t lanes[2];
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), sums);
      return lanes[0] + lanes[1];
    }
  };
};

}  // namespace

DenseVoteCounts vote_dense_b1__sse2(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  return vote_dense_bitsliced<Sse2Word>(voters, n, negative, tie);
}

}  // namespace signfed::kernels
