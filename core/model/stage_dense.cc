// Dense layer, optionally with the relu after it fused (stage.h).
#include <vector>

#include "core/model/internal/layers.h"
#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

class DenseStage final : public Stage {
 public:
  DenseStage(const float* w, std::size_t in, std::size_t out, bool relu) : w_(w), in_(in), out_(out), relu_(relu) {}

  void reserve(std::size_t batch) override { z_.assign(out_ * batch, 0.0f); }

  const float* forward(const float* in, std::size_t batch, bool) override {
    dense_forward(w_, w_ + in_ * out_, in_, out_, in, batch, z_.data(), relu_);
    return z_.data();
  }

  void backward(const float* in, float* dout, std::size_t batch, float* grad, float* din) override {
    if (relu_) relu_backward(dout, z_.data(), out_ * batch);
    dense_backward(w_, in_, out_, in, dout, batch, grad, grad + in_ * out_, din);
  }

 private:
  const float* w_;
  std::size_t in_, out_;
  bool relu_;
  std::vector<float> z_;  // output (after relu if fused)
};

}  // namespace

std::unique_ptr<Stage> make_dense_stage(const float* w, std::size_t in, std::size_t out, bool relu) {
  return std::make_unique<DenseStage>(w, in, out, relu);
}

}  // namespace signfed::model::detail
