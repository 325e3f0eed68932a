// Private: one term of MeanTally's fixed point, shared by the scalar
// reference and the SIMD variants' tails (tally_kernels.h has the contract).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace signfed::kernels::tally_detail {

// v + kMagic rounds v to the nearest integer (ties to even) for |v| < 2^51,
// and the integer is then the low bits of the sum's representation.
inline constexpr double kMagic = 6755399441055744.0;   // 1.5 * 2^52
inline constexpr double kLimbScale = 1099511627776.0;  // 2^40
inline constexpr std::int64_t kMagicBits = std::bit_cast<std::int64_t>(kMagic);

inline std::int64_t magic_bits(double q) { return std::bit_cast<std::int64_t>(q) - kMagicBits; }

inline float load_f32(const std::uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// Adds t (finite, |t| < 2^40, so every operand of magic_bits is below 2^51)
// to the three limbs: t = a0 + a1 2^-40 + a2 2^-80.
inline void add_term(double t, std::int64_t& l0, std::int64_t& l1, std::int64_t& l2) {
  const double q0 = t + kMagic;
  const double r1 = (t - (q0 - kMagic)) * kLimbScale;  // exact: |t - round(t)| <= 1/2
  const double q1 = r1 + kMagic;
  const double r2 = (r1 - (q1 - kMagic)) * kLimbScale;
  l0 += magic_bits(q0);
  l1 += magic_bits(q1);
  l2 += magic_bits(r2 + kMagic);  // the one rounding: to nearest at 2^-80
}

inline void mean_add_tail(const std::uint8_t* x, double wf, std::size_t from, std::size_t n, std::int64_t* l0,
                          std::int64_t* l1, std::int64_t* l2) {
  for (std::size_t i = from; i < n; ++i)
    add_term(static_cast<double>(load_f32(x + 4 * i)) * wf, l0[i], l1[i], l2[i]);
}

}  // namespace signfed::kernels::tally_detail
