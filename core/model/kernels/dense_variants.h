// Internal: the dense-kernel variants dispatch.cc tables (train_kernels.h has
// the contract). Names: <op>_f32__<isa>. Only the variants this build compiles
// are defined (core/model/CMakeLists.txt); call one only if the CPU has its ISA.
#pragma once

#include <cstddef>

namespace signfed::model::kernels {

#define SIGNFED_DECLARE_DENSE(isa)                                                                            \
  void dense_forward_f32__##isa(const float* w, const float* b, std::size_t in, std::size_t out, const float* x, \
                                std::size_t batch, float* z, bool relu);                                      \
  void dense_backward_f32__##isa(const float* w, std::size_t in, std::size_t out, const float* x,             \
                                 const float* dz, std::size_t batch, float* dw, float* db, float* dx);

SIGNFED_DECLARE_DENSE(scalar)    // dense_scalar.cc
SIGNFED_DECLARE_DENSE(baseline)  // dense_baseline.cc: Eigen at the target's baseline ISA
SIGNFED_DECLARE_DENSE(avx2)      // dense_avx2.cc (x86)
SIGNFED_DECLARE_DENSE(avx512)    // dense_avx512.cc (x86)

#undef SIGNFED_DECLARE_DENSE

}  // namespace signfed::model::kernels
