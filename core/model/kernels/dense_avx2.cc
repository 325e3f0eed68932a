// Dense kernels, Eigen with AVX2 + FMA (this file only: -mavx2 -mfma).
// dispatch.cc calls them only after CPUID reports AVX2 and FMA.
#define SIGNFED_EIGEN_NS signfed_eigen_avx2
#define SIGNFED_DENSE_FORWARD dense_forward_f32__avx2
#define SIGNFED_DENSE_BACKWARD dense_backward_f32__avx2
#include "core/model/kernels/dense_eigen.inc"
