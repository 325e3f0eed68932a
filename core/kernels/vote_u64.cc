// Portable bit-sliced vote over 64-bit words (no intrinsics).
#include "core/kernels/internal/vote_bitsliced.h"

namespace signfed::kernels {

DenseVoteCounts vote_dense_b1__u64(std::span<const std::uint8_t* const> voters, std::size_t n,
                                   std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  return vote_dense_bitsliced<U64Word>(voters, n, negative, tie);
}

}  // namespace signfed::kernels
