// NEON pack/unpack (AArch64, or 32-bit ARM with -mfpu=neon). Only ARMv7-level
// intrinsics, so the same file builds for both. Signs are taken through the
// integer view (bit 31), never a float compare.
#include <arm_neon.h>

#include <cstring>

#include "core/kernels/internal/pack_tail.h"

namespace signfed::kernels {

void pack_signs_f32__neon(std::span<const float> x, std::span<std::uint8_t> out) {
  const std::size_t n = x.size();
  const float* p = x.data();
  std::uint8_t* o = out.data();
  // Lane l of each 8-lane half moves its 0/1 sign to bit l; the pairwise adds
  // then sum (== OR) the distinct bits of each half into one byte.
  const int8_t shifts[16] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7};
  const int8x16_t shift = vld1q_s8(shifts);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint32x4_t a = vreinterpretq_u32_f32(vld1q_f32(p + i + 0));
    const uint32x4_t b = vreinterpretq_u32_f32(vld1q_f32(p + i + 4));
    const uint32x4_t c = vreinterpretq_u32_f32(vld1q_f32(p + i + 8));
    const uint32x4_t d = vreinterpretq_u32_f32(vld1q_f32(p + i + 12));
    // Keep the top byte of every float: bit 7 is the sign.
    const uint16x8_t ab = vcombine_u16(vshrn_n_u32(a, 16), vshrn_n_u32(b, 16));
    const uint16x8_t cd = vcombine_u16(vshrn_n_u32(c, 16), vshrn_n_u32(d, 16));
    const uint8x16_t top = vcombine_u8(vshrn_n_u16(ab, 8), vshrn_n_u16(cd, 8));
    const uint8x16_t bits = vshlq_u8(vshrq_n_u8(top, 7), shift);
    const uint64x2_t sums = vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(bits)));
    o[i / 8] = static_cast<std::uint8_t>(vgetq_lane_u64(sums, 0));
    o[i / 8 + 1] = static_cast<std::uint8_t>(vgetq_lane_u64(sums, 1));
  }
  pack_signs_tail(p, i, n, o);
}

void unpack_signs_f32__neon(std::span<const std::uint8_t> bits, std::span<float> out) {
  const std::size_t n = out.size();
  const std::uint8_t* b = bits.data();
  float* o = out.data();
  // Left shifts move bit j of the broadcast byte to the sign position.
  const int32_t lo_shifts[4] = {31, 30, 29, 28};
  const int32_t hi_shifts[4] = {27, 26, 25, 24};
  const int32x4_t s_lo = vld1q_s32(lo_shifts);
  const int32x4_t s_hi = vld1q_s32(hi_shifts);
  const uint32x4_t sign = vdupq_n_u32(0x80000000u);
  const uint32x4_t one = vreinterpretq_u32_f32(vdupq_n_f32(1.0f));
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint32x4_t w = vdupq_n_u32(b[i / 8]);
    const uint32x4_t lo = vorrq_u32(vandq_u32(vshlq_u32(w, s_lo), sign), one);
    const uint32x4_t hi = vorrq_u32(vandq_u32(vshlq_u32(w, s_hi), sign), one);
    vst1q_f32(o + i, vreinterpretq_f32_u32(lo));
    vst1q_f32(o + i + 4, vreinterpretq_f32_u32(hi));
  }
  unpack_signs_tail(b, i, n, o);
}

}  // namespace signfed::kernels
