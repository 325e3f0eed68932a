// Dense kernels, Eigen with AVX-512F + FMA (this file only: -mavx512f -mavx2 -mfma).
// dispatch.cc calls them only after CPUID reports AVX-512F, AVX2 and FMA.
#define SIGNFED_EIGEN_NS signfed_eigen_avx512
#define SIGNFED_DENSE_FORWARD dense_forward_f32__avx512
#define SIGNFED_DENSE_BACKWARD dense_backward_f32__avx512
#include "core/model/kernels/dense_eigen.inc"
