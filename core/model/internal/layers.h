// Internal: batched layer kernels shared by the stages (and the reference Mlp/Cnn).
//
// Activations are "feature x batch" column-major matrices, i.e. the same bytes
// as a row-major (batch x feature) array: one sample is contiguous. Weights are
// row-major [out x in] views into the model's flat parameter vector. No
// function here allocates; callers pass model-owned scratch.
//
// dense_forward / dense_backward run on the training-kernel variant chosen
// once at start-up (core/model/kernels/train_kernels.h: scalar reference,
// baseline Eigen, AVX2+FMA or AVX-512 Eigen; SIGNFED_TRAIN_KERNELS overrides).
#pragma once

#include <cstddef>
#include <cstdint>

namespace signfed::model::detail {

// z[:, j] = W x[:, j] + b, then max(., 0) if relu. z may not alias x.
void dense_forward(const float* w, const float* b, std::size_t in, std::size_t out, const float* x,
                   std::size_t batch, float* z, bool relu);

// Given dz = dL/dz (out x batch): dw = dz x^T (row-major out x in, overwritten),
// db = sum_j dz[:, j] (overwritten), and if dx != nullptr, dx = W^T dz (in x batch).
// dx may alias x: x is last read before dx is written.
void dense_backward(const float* w, std::size_t in, std::size_t out, const float* x, const float* dz,
                    std::size_t batch, float* dw, float* db, float* dx);

// d[i] = 0 where a[i] <= 0 (a is a ReLU output).
void relu_backward(float* d, const float* a, std::size_t n) noexcept;

struct XentResult {
  double loss_sum = 0.0;        // sum over samples of -log softmax(z)[y]
  std::size_t correct = 0;      // samples whose argmax (first on ties) == y
};

// Softmax cross-entropy over a (classes x batch) logit matrix, computed in double
// per sample. If dlogits != nullptr, writes (softmax - onehot(y)) / batch into it.
// Labels must already be validated (< classes).
XentResult softmax_xent(const float* logits, const std::uint8_t* y, std::size_t classes, std::size_t batch,
                        float* dlogits);

// Argument checks shared by every model (throw std::invalid_argument).
void check_batch(std::size_t x_size, std::size_t y_size, std::size_t batch, std::size_t input_size);
void check_labels(const std::uint8_t* y, std::size_t n, std::size_t classes);

}  // namespace signfed::model::detail
