#include "core/model/internal/layers.h"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace signfed::model::detail {
namespace {

using Eigen::Dynamic;
using ColMat = Eigen::Matrix<float, Dynamic, Dynamic, Eigen::ColMajor>;
using RowMat = Eigen::Matrix<float, Dynamic, Dynamic, Eigen::RowMajor>;
using Idx = Eigen::Index;

Idx ix(std::size_t n) { return static_cast<Idx>(n); }

constexpr std::size_t kTileFloats = 256;

}  // namespace

void dense_forward(const float* w, const float* b, std::size_t in, std::size_t out, const float* x,
                   std::size_t batch, float* z, bool relu) {
  Eigen::Map<const RowMat> W(w, ix(out), ix(in));
  Eigen::Map<const ColMat> X(x, ix(in), ix(batch));
  Eigen::Map<ColMat> Z(z, ix(out), ix(batch));
  Z.noalias() = W * X;
  // Bias and ReLU in one pass over the output while it is still in cache.
  float* const end = z + out * batch;
  if (out <= kTileFloats / 8) {
    // Narrow layers (conv channels): a column is too short to vectorise, so
    // run over a tile of whole columns with the bias repeated across it.
    std::array<float, kTileFloats> bias;
    const std::size_t tile = kTileFloats / out * out;
    for (std::size_t t = 0; t < tile; ++t) bias[t] = b[t % out];
    for (float* p = z; p < end; p += tile) {
      const std::size_t n = std::min<std::size_t>(tile, static_cast<std::size_t>(end - p));
      if (relu) {
        for (std::size_t t = 0; t < n; ++t) p[t] = std::max(p[t] + bias[t], 0.0f);
      } else {
        for (std::size_t t = 0; t < n; ++t) p[t] += bias[t];
      }
    }
    return;
  }
  for (float* col = z; col < end; col += out) {
    if (relu) {
      for (std::size_t i = 0; i < out; ++i) col[i] = std::max(col[i] + b[i], 0.0f);
    } else {
      for (std::size_t i = 0; i < out; ++i) col[i] += b[i];
    }
  }
}

void dense_backward(const float* w, std::size_t in, std::size_t out, const float* x, const float* dz,
                    std::size_t batch, float* dw, float* db, float* dx) {
  Eigen::Map<const ColMat> X(x, ix(in), ix(batch));
  Eigen::Map<const ColMat> dZ(dz, ix(out), ix(batch));
  Eigen::Map<RowMat> dW(dw, ix(out), ix(in));
  // Row-major dW (out x in) is the column-major in x out matrix X dZ^T, which
  // Eigen computes without transposing the destination.
  dW.noalias() = dZ * X.transpose();
  std::fill(db, db + out, 0.0f);
  for (std::size_t j = 0; j < batch; ++j) {
    const float* col = dz + j * out;
    for (std::size_t i = 0; i < out; ++i) db[i] += col[i];
  }
  if (dx != nullptr) {
    Eigen::Map<const RowMat> W(w, ix(out), ix(in));
    Eigen::Map<ColMat> dX(dx, ix(in), ix(batch));
    dX.noalias() = W.transpose() * dZ;
  }
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
