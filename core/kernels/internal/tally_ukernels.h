// Private: every tally kernel variant, <op>_<dtype>__<isa> as ukernels.h.
// Only tally_dispatch.cc, the tests and the benchmarks look at these; users
// go through TallyKernels (tally_kernels.h has the contract).
#pragma once

#include "core/kernels/tally_kernels.h"

namespace signfed::kernels {

void mean_add_f32__scalar(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                          std::int64_t* l2);
// x86-64, compiled with -mavx2 / -mavx512f on their files only, called after a CPUID check.
void mean_add_f32__avx2(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                        std::int64_t* l2);
void mean_add_f32__avx512(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                          std::int64_t* l2);

}  // namespace signfed::kernels
