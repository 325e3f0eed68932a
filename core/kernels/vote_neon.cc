// NEON bit-sliced vote: 128 coordinates per word.
#include <arm_neon.h>

#include "core/kernels/internal/vote_bitsliced.h"

namespace signfed::kernels {
namespace {

struct NeonWord {
  using V = uint8x16_t;
  static constexpr std::size_t kBytes = 16;
  static V zero() { return vdupq_n_u8(0); }
  static V ones() { return vdupq_n_u8(0xff); }
  static V and_(V a, V b) { return vandq_u8(a, b); }
  static V or_(V a, V b) { return vorrq_u8(a, b); }
  static V xor_(V a, V b) { return veorq_u8(a, b); }
  static V andnot(V a, V b) { return vbicq_u8(a, b); }
  static V load(const std::uint8_t* p) { return vld1q_u8(p); }
  static void store(std::uint8_t* p, V x) { vst1q_u8(p, x); }
  // vcnt gives byte popcounts; byte partial sums widened on flush.
  struct Popcount {
    V bytes = vdupq_n_u8(0);
    uint64x2_t sums = vdupq_n_u64(0);
    void add(V x) { bytes = vaddq_u8(bytes, vcntq_u8(x)); }
    void flush() {
      sums = vaddq_u64(sums, vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(bytes))));
      bytes = vdupq_n_u8(0);
    }
    std::uint64_t total() const { return vgetq_lane_u64(sums, 0) + vgetq_lane_u64(sums, 1); }
  };
};

}  // namespace

DenseVoteCounts vote_dense_b1__neon(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  return vote_dense_bitsliced<NeonWord>(voters, n, negative, tie);
}

}  // namespace signfed::kernels
