// Training-step kernels: the GEMMs of the dense and conv layers (forward,
// backward-data, backward-weights) with their bias/ReLU epilogue and bias
// gradient, one variant per ISA, chosen once at start-up.
//
// Layout (layers.h): activations are "feature x batch" column-major (one
// sample contiguous), weights row-major [out x in], all float32. Sizes are in
// elements. Kernels never allocate, never throw, and never write outside the
// arrays described; they are pure functions (thread-safe if outputs do not
// alias inputs, except where a contract below allows it).
//
// Variants (name: how built):
//   "scalar"    plain loops, the reference: each dot product accumulated in
//               float, in index order, no FMA (-ffp-contract=off).
//   "sse2"      x86-64: Eigen at the baseline ISA (SSE2, unless the whole
//               build sets -march). This is the path the golden digests
//               (tests/golden) were recorded with: the code before dispatch.
//   "neon"      AArch64: Eigen at the baseline ISA (NEON, with FMA).
//   "portable"  other targets (armhf): Eigen at the baseline ISA.
//   "avx2"      x86: Eigen compiled with -mavx2 -mfma in its own translation
//               unit, Eigen renamed (see dense_eigen.inc), used if CPUID says
//               AVX2 and FMA.
//   "avx512"    x86: the same with -mavx512f, used if CPUID says AVX-512F.
// Numerics: every variant computes the same sums in a different order and
// with or without FMA, so they are not bit-equal. tests/model/train_kernels_test
// holds each to the reference within |a - r| <= (K+1) * 2^-22 * sum_k |w_k x_k|
// (K terms per dot product; two float dot products each within K*u*sum|.|
// of the exact one, u = 2^-24, Higham 3.1; FMA only removes roundings; the
// extra factor 2 covers sum|.| itself being computed in float).
//
// Selection: the fastest variant the CPU supports, unless the environment
// variable SIGNFED_TRAIN_KERNELS names one (read once, at first use). An
// unknown name, or one this CPU/build cannot run, throws std::runtime_error
// from that first use. tests/golden sets SIGNFED_TRAIN_KERNELS=sse2.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace signfed::model::kernels {

// z[:, j] = W x[:, j] + b, then max(., 0) if relu. z may not alias x.
// w: out x in row-major; b: out; x: in x batch; z: out x batch.
using DenseForwardFn = void (*)(const float* w, const float* b, std::size_t in, std::size_t out, const float* x,
                                std::size_t batch, float* z, bool relu);

// Given dz = dL/dz (out x batch): dw = dz x^T (row-major out x in, overwritten),
// db = sum_j dz[:, j] (overwritten), and if dx != nullptr, dx = W^T dz (in x batch).
// dx may alias x: x is last read before dx is written.
using DenseBackwardFn = void (*)(const float* w, std::size_t in, std::size_t out, const float* x, const float* dz,
                                 std::size_t batch, float* dw, float* db, float* dx);

struct TrainKernels {
  const char* name;  // see the list above
  DenseForwardFn dense_forward;
  DenseBackwardFn dense_backward;
};

// The scalar reference.
const TrainKernels& scalar_train_kernels();

// Every variant compiled in AND supported by this CPU, reference first,
// slowest to fastest.
std::span<const TrainKernels* const> all_train_kernels();

// The variant the layers use: SIGNFED_TRAIN_KERNELS if set, else the last of
// all_train_kernels(). Decided once; throws std::runtime_error (every call)
// if the environment names an unknown or unsupported variant.
const TrainKernels& active_train_kernels();

// The supported variant called name, or nullptr.
const TrainKernels* find_train_kernels(std::string_view name);

}  // namespace signfed::model::kernels
