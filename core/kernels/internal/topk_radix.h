// Private: top-k by radix select on the IEEE bits of |g|, written once as a
// template over a policy P that supplies the three full passes over g (the
// hot loops); topk_*.cc instantiate it with scalar, AVX2 or NEON passes.
//
// Why radix select: key(i) = bits(g[i]) & 0x7fffffff orders like |g[i]| for
// finite floats (and -0.0f == +0.0f), so the k-th largest key is found digit
// by digit from histograms — a fixed number of linear passes instead of
// nth_element's data-dependent partitioning:
//   1. histogram of key >> 20 (2048 bins) over all n;   pick the bucket B1
//      holding the k-th largest key;
//   2. collect the indices of bucket B1 (usually a small fraction of n);
//      refine digits 19..10 and 9..0 over those candidates only -> threshold T
//      and need = k - #(key > T) ties to take;
//   3. one compaction pass in index order: emit i if key > T, or key == T while
//      ties are still needed — exactly k indices, ascending, lowest-index ties.
//
// The driver (select_topk_radix, topk_radix.cc) is compiled once with baseline
// flags and calls the passes through a TopkPasses table: the ISA files then
// hold only intrinsics over raw pointers, and no std:: template (vector,
// fill, ...) is ever instantiated with -mavx2 (the linker could otherwise
// keep that copy for baseline callers). The helpers below have internal
// linkage for the same reason.
//
// g.size() must be < 2^32 (indices are uint32).
#pragma once

#include <bit>
#include <cstring>

#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {

// The three full passes over g. `cand` and `out` are raw pointers: collect may
// write up to kTopkSlack slots past its returned count in cand; emit writes
// exactly k indices and never past out[k - 1].
struct TopkPasses {
  // hist: 4 x 2048 zeroed counters; any of the four may take any key.
  void (*histogram_high)(const float* g, std::size_t n, std::uint32_t* hist);
  // Indices i (ascending) with key(g[i]) >> 20 == bucket.
  std::size_t (*collect_bucket)(const float* g, std::size_t n, std::uint32_t bucket, std::uint32_t* cand);
  // Indices with key > t, plus the first `need` with key == t, ascending, until k.
  std::size_t (*emit)(const float* g, std::size_t n, std::uint32_t t, std::size_t need, std::uint32_t* out,
                      std::size_t k);
};

std::size_t select_topk_radix(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                              std::vector<std::uint32_t>& scratch, const TopkPasses& passes);

namespace {

constexpr int kTopkShift1 = 20;                       // digit 1: key bits 30..20
constexpr std::size_t kTopkBins1 = std::size_t{1} << 11;
constexpr std::size_t kTopkBins2 = std::size_t{1} << 10;  // digits 2, 3: bits 19..10, 9..0
constexpr std::size_t kTopkHistWords = 4 * kTopkBins1;    // four interleaved histograms
constexpr std::size_t kTopkSlack = 8;                     // vector over-write room in cand

inline std::uint32_t topk_key(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7fffffffu; }

// Scalar passes: the portable policy, and the fallback pieces of SIMD ones.
struct ScalarTopkPasses {
  static void histogram_high(const float* g, std::size_t n, std::uint32_t* hist) {
    // Four histograms break the load-increment-store chains when neighbouring
    // values share a bin (gradients cluster in a few exponents).
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      ++hist[0 * kTopkBins1 + (topk_key(g[i + 0]) >> kTopkShift1)];
      ++hist[1 * kTopkBins1 + (topk_key(g[i + 1]) >> kTopkShift1)];
      ++hist[2 * kTopkBins1 + (topk_key(g[i + 2]) >> kTopkShift1)];
      ++hist[3 * kTopkBins1 + (topk_key(g[i + 3]) >> kTopkShift1)];
    }
    for (; i < n; ++i) ++hist[topk_key(g[i]) >> kTopkShift1];
  }

  static std::size_t collect_bucket(const float* g, std::size_t n, std::uint32_t bucket, std::uint32_t* cand) {
    std::size_t c = 0;
    for (std::size_t i = 0; i < n; ++i) {
      cand[c] = static_cast<std::uint32_t>(i);  // branch-free: written always, kept if in bucket
      c += (topk_key(g[i]) >> kTopkShift1) == bucket;
    }
    return c;
  }

  // From index `i` on; `w` indices already in out; `need` ties still to take.
  static std::size_t emit_from(const float* g, std::size_t n, std::size_t i, std::uint32_t t, std::size_t& need,
                               std::uint32_t* out, std::size_t w, std::size_t k) {
    // Stops once k are out: every index with key > t is then already emitted.
    for (; i < n && w < k; ++i) {
      const std::uint32_t key = topk_key(g[i]);
      const bool tie = key == t && need > 0;
      out[w] = static_cast<std::uint32_t>(i);
      w += (key > t) | tie;
      need -= tie;
    }
    return w;
  }

  static std::size_t emit(const float* g, std::size_t n, std::uint32_t t, std::size_t need, std::uint32_t* out,
                          std::size_t k) {
    return emit_from(g, n, 0, t, need, out, 0, k);
  }
};

// Finds the bin holding the `k`-th largest (k >= 1) among counts hist[0..bins),
// scanning from the top. Returns the bin; `above` gets the count in higher bins.
inline std::uint32_t topk_find_bin(const std::uint32_t* hist, std::size_t bins, std::size_t k,
                                   std::size_t& above) {
  above = 0;
  for (std::size_t b = bins; b-- > 0;) {
    if (above + hist[b] >= k) return static_cast<std::uint32_t>(b);
    above += hist[b];
  }
  return 0;  // unreachable when the counts sum to >= k
}

}  // namespace
}  // namespace signfed::kernels
