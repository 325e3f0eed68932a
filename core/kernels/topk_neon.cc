// NEON passes for the radix-select top-k: 4 keys per vector, compared in
// SIMD; selected lanes are stored branch-free (write always, advance by the
// lane's mask bit). ARMv7-level intrinsics only.
#include <arm_neon.h>

#include "core/kernels/internal/topk_radix.h"

namespace signfed::kernels {
namespace {

inline uint32x4_t keys4(const float* p) {
  return vandq_u32(vreinterpretq_u32_f32(vld1q_f32(p)), vdupq_n_u32(0x7fffffffu));
}

// 16 bits per lane (0 or 0xffff) of a compare result, as one 64-bit word.
inline std::uint64_t lane_bits(uint32x4_t cmp) { return vget_lane_u64(vreinterpret_u64_u16(vmovn_u32(cmp)), 0); }

// Appends base + l for every lane l whose 16-bit field of `bits` is set.
inline std::size_t store_lanes(std::uint32_t* dst, std::size_t w, std::size_t base, std::uint64_t bits) {
  for (unsigned l = 0; l < 4; ++l) {
    dst[w] = static_cast<std::uint32_t>(base + l);
    w += (bits >> (16 * l)) & 1u;
  }
  return w;
}

struct NeonTopkPasses {
  static std::size_t collect_bucket(const float* g, std::size_t n, std::uint32_t bucket, std::uint32_t* cand) {
    const uint32x4_t b = vdupq_n_u32(bucket);
    std::size_t c = 0, i = 0;
    for (; i + 4 <= n; i += 4) {
      const std::uint64_t bits = lane_bits(vceqq_u32(vshrq_n_u32(keys4(g + i), kTopkShift1), b));
      c = store_lanes(cand, c, i, bits);
    }
    for (; i < n; ++i) {
      cand[c] = static_cast<std::uint32_t>(i);
      c += (topk_key(g[i]) >> kTopkShift1) == bucket;
    }
    return c;
  }

  static std::size_t emit(const float* g, std::size_t n, std::uint32_t t, std::size_t need, std::uint32_t* out,
                          std::size_t k) {
    const uint32x4_t tv = vdupq_n_u32(t);
    std::size_t w = 0, i = 0;
    // Four unconditional stores per group: only while 4 slots remain below k.
    for (; i + 4 <= n && k - w >= 4; i += 4) {
      const uint32x4_t key = keys4(g + i);
      if (need > 0 && lane_bits(vceqq_u32(key, tv)) != 0) {  // ties in this group: one at a time
        w = ScalarTopkPasses::emit_from(g, i + 4, i, t, need, out, w, k);
        continue;
      }
      w = store_lanes(out, w, i, lane_bits(vcgtq_u32(key, tv)));
    }
    return ScalarTopkPasses::emit_from(g, n, i, t, need, out, w, k);
  }
};

}  // namespace

std::size_t select_topk_f32__neon(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                  std::vector<std::uint32_t>& scratch) {
  static constexpr TopkPasses kPasses{ScalarTopkPasses::histogram_high, NeonTopkPasses::collect_bucket,
                                      NeonTopkPasses::emit};
  return select_topk_radix(g, k, out, scratch, kPasses);
}

}  // namespace signfed::kernels
