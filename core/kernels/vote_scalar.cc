// Scalar reference for the dense majority vote: count per coordinate, then
// classify. Deliberately the most literal reading of the contract.
#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {

DenseVoteCounts vote_dense_b1__scalar(std::span<const std::uint8_t* const> voters, std::size_t n,
                                      std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  DenseVoteCounts counts;
  const std::uint64_t m = voters.size();
  for (std::size_t byte = 0; byte < packed_bytes(n); ++byte) {
    negative[byte] = 0;
    tie[byte] = 0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t c = 0;  // voters with bit i set (negative votes)
    for (const std::uint8_t* v : voters) c += (v[i / 8] >> (i % 8)) & 1u;
    const auto bit = static_cast<std::uint8_t>(1u << (i % 8));
    if (2 * c > m) {
      negative[i / 8] |= bit;
      ++counts.negative;
    } else if (2 * c == m) {
      tie[i / 8] |= bit;
      ++counts.ties;
    } else {
      ++counts.positive;
    }
    // margin = |m - 2c| / m; bin = min(floor(margin * B), B - 1), exactly,
    // in integers: largest b with |m - 2c| * B >= b * m. m == 0: bin 0.
    const std::uint64_t d = 2 * c > m ? 2 * c - m : m - 2 * c;
    std::uint64_t b = m == 0 ? 0 : d * kMarginBins / m;
    if (b > kMarginBins - 1) b = kMarginBins - 1;
    ++counts.margin_hist[b];
  }
  return counts;
}

}  // namespace signfed::kernels
