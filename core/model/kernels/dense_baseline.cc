// Dense kernels, Eigen at the target's baseline ISA: SSE2 on x86-64 (the
// variant "sse2", which the golden digests were recorded with: same Eigen
// expressions and epilogue as before the dispatcher, so the same floats),
// NEON on AArch64 ("neon"), scalar Eigen elsewhere ("portable").
#define SIGNFED_EIGEN_NS signfed_eigen_baseline
#define SIGNFED_DENSE_FORWARD dense_forward_f32__baseline
#define SIGNFED_DENSE_BACKWARD dense_backward_f32__baseline
#include "core/model/kernels/dense_eigen.inc"
