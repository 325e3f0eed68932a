// AVX2 passes for the radix-select top-k (compiled with -mavx2 -mpopcnt):
// 8 keys per vector; selected lanes are left-packed with a permutation table
// indexed by the movemask, so the passes are branch-free in the common case.
#include <immintrin.h>

#include "core/kernels/internal/topk_radix.h"

namespace signfed::kernels {
namespace {

// mask -> positions of its set bits, one per byte, in ascending order.
struct LeftPackTable {
  std::uint64_t pos[256];
};
constexpr LeftPackTable make_leftpack_table() {
  LeftPackTable t{};
  for (unsigned m = 0; m < 256; ++m) {
    unsigned w = 0;
    for (unsigned b = 0; b < 8; ++b)
      if ((m >> b) & 1u) t.pos[m] |= std::uint64_t{b} << (8 * w++);
  }
  return t;
}
constexpr LeftPackTable kLeftPack = make_leftpack_table();

inline __m256i lane_indices(std::size_t base, unsigned mask) {
  const __m256i pos = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(kLeftPack.pos[mask])));
  return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)), pos);
}

inline __m256i keys8(const float* p) {
  return _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(p)), _mm256_set1_epi32(0x7fffffff));
}

inline unsigned lane_mask(__m256i cmp) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(cmp))); }

struct Avx2TopkPasses {
  static void histogram_high(const float* g, std::size_t n, std::uint32_t* hist) {
    // Keys computed 8 at a time; the increments themselves stay scalar.
    std::size_t i = 0;
    alignas(32) std::uint32_t d[8];
    for (; i + 8 <= n; i += 8) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_srli_epi32(keys8(g + i), kTopkShift1));
      for (std::size_t l = 0; l < 8; ++l) ++hist[(l % 4) * kTopkBins1 + d[l]];
    }
    for (; i < n; ++i) ++hist[topk_key(g[i]) >> kTopkShift1];
  }

  static std::size_t collect_bucket(const float* g, std::size_t n, std::uint32_t bucket, std::uint32_t* cand) {
    const __m256i b = _mm256_set1_epi32(static_cast<int>(bucket));
    std::size_t c = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
      const unsigned mask = lane_mask(_mm256_cmpeq_epi32(_mm256_srli_epi32(keys8(g + i), kTopkShift1), b));
      // cand has kTopkSlack slots past n: the full-vector store is in bounds.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(cand + c), lane_indices(i, mask));
      c += static_cast<std::size_t>(__builtin_popcount(mask));
    }
    for (; i < n; ++i) {
      cand[c] = static_cast<std::uint32_t>(i);
      c += (topk_key(g[i]) >> kTopkShift1) == bucket;
    }
    return c;
  }

  static std::size_t emit(const float* g, std::size_t n, std::uint32_t t, std::size_t need, std::uint32_t* out,
                          std::size_t k) {
    const __m256i tv = _mm256_set1_epi32(static_cast<int>(t));
    std::size_t w = 0, i = 0;
    // Vector stores only while 8 slots remain below k: never past the span.
    for (; i + 8 <= n && k - w >= 8; i += 8) {
      const __m256i key = keys8(g + i);  // <= 0x7fffffff: signed compare is fine
      unsigned mask = lane_mask(_mm256_cmpgt_epi32(key, tv));
      if (need > 0) {
        unsigned eq = lane_mask(_mm256_cmpeq_epi32(key, tv));
        const auto ties = static_cast<std::size_t>(__builtin_popcount(eq));
        if (ties <= need) {
          need -= ties;
        } else {  // only the lowest-index `need` ties
          unsigned take = 0;
          for (; need > 0; --need) {
            take |= eq & (0u - eq);
            eq &= eq - 1;
          }
          eq = take;
        }
        mask |= eq;
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + w), lane_indices(i, mask));
      w += static_cast<std::size_t>(__builtin_popcount(mask));
    }
    return ScalarTopkPasses::emit_from(g, n, i, t, need, out, w, k);
  }
};

}  // namespace

std::size_t select_topk_f32__avx2(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                  std::vector<std::uint32_t>& scratch) {
  static constexpr TopkPasses kPasses{Avx2TopkPasses::histogram_high, Avx2TopkPasses::collect_bucket,
                                      Avx2TopkPasses::emit};
  return select_topk_radix(g, k, out, scratch, kPasses);
}

}  // namespace signfed::kernels
