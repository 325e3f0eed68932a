// Scalar reference for top-k: order indices by (|g| desc, index asc) with
// std::nth_element, keep the first k, sort them ascending.
#include <algorithm>
#include <bit>

#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {

std::size_t select_topk_f32__scalar(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                    std::vector<std::uint32_t>& scratch) {
  const std::size_t n = g.size();
  k = std::min({k, n, out.size()});
  if (k == 0) return 0;
  // |g| as its IEEE bits with the sign cleared: for non-negative floats the
  // uint32 order is the float order, and -0.0f == +0.0f.
  auto key = [&](std::uint32_t i) { return std::bit_cast<std::uint32_t>(g[i]) & 0x7fffffffu; };
  auto before = [&](std::uint32_t a, std::uint32_t b) {
    const std::uint32_t ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a < b;
  };
  if (scratch.size() < n) scratch.resize(n);
  for (std::size_t i = 0; i < n; ++i) scratch[i] = static_cast<std::uint32_t>(i);
  const auto first = scratch.begin();
  const auto kth = first + static_cast<std::ptrdiff_t>(k);
  std::nth_element(first, kth - 1, first + static_cast<std::ptrdiff_t>(n), before);
  std::sort(first, kth);
  std::copy(first, kth, out.begin());
  return k;
}

}  // namespace signfed::kernels
