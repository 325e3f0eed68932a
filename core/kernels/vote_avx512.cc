// AVX-512 bit-sliced vote: 512 coordinates per word (compiled with -mavx512f
// -mavx512vpopcntdq; dispatch.cc calls it only after a CPUID check). Twice
// the AVX2 width, and one-instruction 64-bit popcounts for the counts and the
// margin histogram; the compiler folds the carry-save adders into vpternlog.
#include <immintrin.h>

#include "core/kernels/internal/vote_bitsliced.h"

namespace signfed::kernels {
namespace {

struct Avx512Word {
  using V = __m512i;
  static constexpr std::size_t kBytes = 64;
  static V zero() { return _mm512_setzero_si512(); }
  static V ones() { return _mm512_set1_epi32(-1); }
  static V and_(V a, V b) { return _mm512_and_si512(a, b); }
  static V or_(V a, V b) { return _mm512_or_si512(a, b); }
  static V xor_(V a, V b) { return _mm512_xor_si512(a, b); }
  // (Not _mm512_andnot_si512 / _mm512_reduce_add_epi64: GCC 12's headers
  // build them on an undefined operand and -Werror trips on it.)
  static V andnot(V a, V b) { return _mm512_and_si512(a, _mm512_xor_si512(b, ones())); }
  static V load(const std::uint8_t* p) { return _mm512_loadu_si512(p); }
  static void store(std::uint8_t* p, V x) { _mm512_storeu_si512(p, x); }
  // VPOPCNTQ counts straight into 64-bit lanes: nothing to flush.
  struct Popcount {
    V sums = _mm512_setzero_si512();
    void add(V x) { sums = _mm512_add_epi64(sums, _mm512_popcnt_epi64(x)); }
    void flush() {}
    std::uint64_t total() const {
      alignas(64) std::uint64_t lanes[8];
      _mm512_store_si512(lanes, sums);
      std::uint64_t t = 0;
      for (std::uint64_t l : lanes) t += l;
      return t;
    }
  };
};

}  // namespace

DenseVoteCounts vote_dense_b1__avx512(std::span<const std::uint8_t* const> voters, std::size_t n,
                                      std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  return vote_dense_bitsliced<Avx512Word>(voters, n, negative, tie);
}

}  // namespace signfed::kernels
