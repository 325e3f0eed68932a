// Elementwise relu, tanh and sigmoid (stage.h); the backward reads the
// stage's own output (relu: out > 0; tanh: 1 - out^2; sigmoid: out(1 - out)).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

class ActivationStage final : public Stage {
 public:
  ActivationStage(LayerKind kind, std::size_t size) : kind_(kind), size_(size) {}

  void reserve(std::size_t batch) override { out_.assign(size_ * batch, 0.0f); }

  const float* forward(const float* in, std::size_t batch, bool) override {
    const std::size_t n = size_ * batch;
    float* out = out_.data();
    switch (kind_) {
      case LayerKind::relu:
        for (std::size_t i = 0; i < n; ++i) out[i] = std::max(in[i], 0.0f);
        break;
      case LayerKind::tanh:
        for (std::size_t i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
        break;
      default:  // sigmoid
        for (std::size_t i = 0; i < n; ++i) out[i] = 1.0f / (1.0f + std::exp(-in[i]));
        break;
    }
    return out;
  }

  void backward(const float*, float* dout, std::size_t batch, float*, float* din) override {
    if (din == nullptr) return;
    const std::size_t n = size_ * batch;
    const float* a = out_.data();
    switch (kind_) {
      case LayerKind::relu:
        for (std::size_t i = 0; i < n; ++i) din[i] = a[i] > 0.0f ? dout[i] : 0.0f;
        break;
      case LayerKind::tanh:
        for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * (1.0f - a[i] * a[i]);
        break;
      default:
        for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * a[i] * (1.0f - a[i]);
        break;
    }
  }

 private:
  LayerKind kind_;
  std::size_t size_;
  std::vector<float> out_;
};

}  // namespace

std::unique_ptr<Stage> make_activation_stage(LayerKind kind, std::size_t size) {
  return std::make_unique<ActivationStage>(kind, size);
}

}  // namespace signfed::model::detail
