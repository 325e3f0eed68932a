// Tally kernels: the exact mean's accumulation (core/methods/tally.h,
// MeanTally), the hot loop of a fedsgd/fedavg round at the coordinator.
//
// Contract shared by every variant (scalar reference, AVX2, AVX-512):
//  * mean_add(x, wf, n, l0, l1, l2) adds, for i < n, the term t_i = wf * x_i
//    (x_i: float32 i of x, little-endian, any alignment; t_i rounded once to
//    double) split into three limbs t_i = a0 + a1 2^-40 + a2 2^-80 (a0, a1
//    rounded to nearest-even integers, a2 the rest rounded to nearest at
//    2^-80) to l0[i], l1[i], l2[i]: MeanTally's fixed point.
//  * Precondition: every t_i is finite and |t_i| < 2^40 (the caller checks
//    the maximum |x_i| first; out-of-range updates take MeanTally's clamped
//    scalar path, not these kernels).
//  * Every variant is bit-exact to the scalar reference: the limbs are exact
//    integer sums of the same per-term integers (tests/kernels holds them
//    equal over sizes 0..4x vector width plus large random sizes). The files
//    are compiled with -ffp-contract=off: a fused multiply-add would round
//    wf * x_i + 1.5 * 2^52 once instead of twice and change the bits.
//  * Never allocate, never throw; l0, l1, l2 do not alias each other or x.
//    Pure functions: thread-safe as long as the limbs do not alias.
//
// Variants are chosen once from CPU features by best_tally_kernels(); tests
// and benchmarks iterate all_tally_kernels().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace signfed::kernels {

using MeanAddF32Fn = void (*)(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                              std::int64_t* l2);

struct TallyKernels {
  const char* name;  // "scalar", "avx2", "avx512"
  MeanAddF32Fn mean_add;
};

// The scalar reference: a plain loop, the definition every variant must match.
const TallyKernels& scalar_tally_kernels();

// Every variant compiled in AND supported by this CPU, reference first.
std::span<const TallyKernels* const> all_tally_kernels();

// The fastest supported variant, chosen once (thread-safe static init).
const TallyKernels& best_tally_kernels();

}  // namespace signfed::kernels
