// AVX2 bit-sliced vote: 256 coordinates per word (compiled with -mavx2).
#include <immintrin.h>

#include "core/kernels/internal/vote_bitsliced.h"

namespace signfed::kernels {
namespace {

struct Avx2Word {
  using V = __m256i;
  static constexpr std::size_t kBytes = 32;
  static V zero() { return _mm256_setzero_si256(); }
  static V ones() { return _mm256_set1_epi32(-1); }
  static V and_(V a, V b) { return _mm256_and_si256(a, b); }
  static V or_(V a, V b) { return _mm256_or_si256(a, b); }
  static V xor_(V a, V b) { return _mm256_xor_si256(a, b); }
  static V andnot(V a, V b) { return _mm256_andnot_si256(b, a); }
  static V load(const std::uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(std::uint8_t* p, V x) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), x); }
  // Nibble-lookup byte popcount (Mula), byte partial sums, vpsadbw to flush.
  struct Popcount {
    V bytes = _mm256_setzero_si256();
    V sums = _mm256_setzero_si256();  // four u64 lanes
    void add(V x) {
      const V lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                     0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
      const V low = _mm256_set1_epi8(0x0f);
      const V lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low));
      const V hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
      bytes = _mm256_add_epi8(bytes, _mm256_add_epi8(lo, hi));
    }
    void flush() {
      sums = _mm256_add_epi64(sums, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
      bytes = _mm256_setzero_si256();
    }
    std::uint64_t total() const {
      alignas(32) std::uint64_t lanes[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sums);
      return lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
  };
};

}  // namespace

DenseVoteCounts vote_dense_b1__avx2(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  return vote_dense_bitsliced<Avx2Word>(voters, n, negative, tie);
}

}  // namespace signfed::kernels
