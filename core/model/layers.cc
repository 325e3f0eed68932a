#include "core/model/internal/layers.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "core/model/kernels/train_kernels.h"

namespace signfed::model::detail {

// The GEMMs and their epilogues run on the variant chosen at start-up
// (core/model/kernels/train_kernels.h: ISA, SIGNFED_TRAIN_KERNELS).
void dense_forward(const float* w, const float* b, std::size_t in, std::size_t out, const float* x,
                   std::size_t batch, float* z, bool relu) {
  kernels::active_train_kernels().dense_forward(w, b, in, out, x, batch, z, relu);
}

void dense_backward(const float* w, std::size_t in, std::size_t out, const float* x, const float* dz,
                    std::size_t batch, float* dw, float* db, float* dx) {
  kernels::active_train_kernels().dense_backward(w, in, out, x, dz, batch, dw, db, dx);
}

void relu_backward(float* d, const float* a, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
}

XentResult softmax_xent(const float* logits, const std::uint8_t* y, std::size_t classes, std::size_t batch,
                        float* dlogits) {
  XentResult r;
  const double inv_batch = 1.0 / static_cast<double>(batch);
  for (std::size_t j = 0; j < batch; ++j) {
    const float* z = logits + j * classes;
    std::size_t arg = 0;
    for (std::size_t i = 1; i < classes; ++i) {
      if (z[i] > z[arg]) arg = i;
    }
    const double zmax = z[arg];
    double sum = 0.0;
    for (std::size_t i = 0; i < classes; ++i) sum += std::exp(static_cast<double>(z[i]) - zmax);
    const double log_sum = std::log(sum);
    const std::size_t label = y[j];
    r.loss_sum += log_sum - (static_cast<double>(z[label]) - zmax);
    if (arg == label) ++r.correct;
    if (dlogits != nullptr) {
      float* d = dlogits + j * classes;
      for (std::size_t i = 0; i < classes; ++i) {
        const double p = std::exp(static_cast<double>(z[i]) - zmax - log_sum);
        d[i] = static_cast<float>((p - (i == label ? 1.0 : 0.0)) * inv_batch);
      }
    }
  }
  return r;
}

void check_batch(std::size_t x_size, std::size_t y_size, std::size_t batch, std::size_t input_size) {
  if (x_size / input_size < batch || x_size < batch * input_size) {
    throw std::invalid_argument("model: x holds " + std::to_string(x_size) + " floats, need batch " +
                                std::to_string(batch) + " x input " + std::to_string(input_size));
  }
  if (y_size < batch) {
    throw std::invalid_argument("model: y holds " + std::to_string(y_size) + " labels, need " +
                                std::to_string(batch));
  }
}

void check_labels(const std::uint8_t* y, std::size_t n, std::size_t classes) {
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] >= classes) {
      throw std::invalid_argument("model: label " + std::to_string(y[i]) + " at sample " + std::to_string(i) +
                                  " is out of range for " + std::to_string(classes) + " classes");
    }
  }
}

}  // namespace signfed::model::detail
