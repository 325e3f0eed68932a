// Radix-select top-k driver (baseline flags) and the portable variant.
#include <algorithm>

#include "core/kernels/internal/topk_radix.h"

namespace signfed::kernels {

std::size_t select_topk_radix(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                              std::vector<std::uint32_t>& scratch, const TopkPasses& passes) {
  const std::size_t n = g.size();
  k = std::min({k, n, out.size()});
  if (k == 0) return 0;
  if (k == n) {  // everything, already in index order
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint32_t>(i);
    return k;
  }
  if (scratch.size() < kTopkHistWords + n + kTopkSlack) scratch.resize(kTopkHistWords + n + kTopkSlack);
  std::uint32_t* hist = scratch.data();
  std::uint32_t* cand = hist + kTopkHistWords;

  // Pass 1: top digit over everything.
  std::fill(hist, hist + kTopkHistWords, 0u);
  passes.histogram_high(g.data(), n, hist);
  for (std::size_t b = 0; b < kTopkBins1; ++b)
    hist[b] += hist[kTopkBins1 + b] + hist[2 * kTopkBins1 + b] + hist[3 * kTopkBins1 + b];
  std::size_t above = 0;
  const std::uint32_t b1 = topk_find_bin(hist, kTopkBins1, k, above);
  std::size_t rank = k - above;  // rank of the threshold inside its bucket, >= 1

  // Pass 2: the bucket's indices; then the two low digits over them only.
  std::size_t nc = passes.collect_bucket(g.data(), n, b1, cand);
  std::uint32_t t = b1 << kTopkShift1;
  for (int shift = 10; shift >= 0; shift -= 10) {
    std::fill(hist, hist + kTopkBins2, 0u);
    for (std::size_t j = 0; j < nc; ++j) ++hist[(topk_key(g[cand[j]]) >> shift) & (kTopkBins2 - 1)];
    std::size_t above_here = 0;
    const std::uint32_t d = topk_find_bin(hist, kTopkBins2, rank, above_here);
    rank -= above_here;
    t |= d << shift;
    if (shift == 0) break;
    std::size_t kept = 0;  // keep the candidates whose digit is d
    for (std::size_t j = 0; j < nc; ++j) {
      cand[kept] = cand[j];
      kept += ((topk_key(g[cand[j]]) >> shift) & (kTopkBins2 - 1)) == d;
    }
    nc = kept;
  }
  // t is the k-th largest key; `rank` of the keys equal to t are needed.

  // Pass 3: compaction in index order.
  return passes.emit(g.data(), n, t, rank, out.data(), k);
}

std::size_t select_topk_f32__radix(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                   std::vector<std::uint32_t>& scratch) {
  static constexpr TopkPasses kScalarPasses{ScalarTopkPasses::histogram_high, ScalarTopkPasses::collect_bucket,
                                            ScalarTopkPasses::emit};
  return select_topk_radix(g, k, out, scratch, kScalarPasses);
}

}  // namespace signfed::kernels
