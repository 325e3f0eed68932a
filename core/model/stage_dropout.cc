// Inverted dropout (stage.h): while training each unit is kept with
// probability 1 - rate and scaled by 1/(1 - rate), so evaluation is the
// identity. One uniform from the model's dropout stream per unit, in sample
// then unit order: unit dropped iff u < rate.
#include <algorithm>
#include <vector>

#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

class DropoutStage final : public Stage {
 public:
  DropoutStage(double rate, std::size_t size, SplitMix64* rng)
      : rate_(static_cast<float>(rate)), scale_(static_cast<float>(1.0 / (1.0 - rate))), size_(size), rng_(rng) {}

  void reserve(std::size_t batch) override {
    out_.assign(size_ * batch, 0.0f);
    mask_.assign(size_ * batch, 0.0f);
  }

  const float* forward(const float* in, std::size_t batch, bool training) override {
    dropped_ = training && rate_ > 0.0f;
    if (!dropped_) return in;
    const std::size_t n = size_ * batch;
    for (std::size_t i = 0; i < n; ++i) {
      mask_[i] = rng_->uniform01() < rate_ ? 0.0f : scale_;
      out_[i] = in[i] * mask_[i];
    }
    return out_.data();
  }

  void backward(const float*, float* dout, std::size_t batch, float*, float* din) override {
    if (din == nullptr) return;
    const std::size_t n = size_ * batch;
    if (!dropped_) {
      std::copy(dout, dout + n, din);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * mask_[i];
  }

 private:
  float rate_, scale_;
  std::size_t size_;
  SplitMix64* rng_;
  bool dropped_ = false;  // the last forward applied a mask
  std::vector<float> out_, mask_;
};

}  // namespace

std::unique_ptr<Stage> make_dropout_stage(double rate, std::size_t size, SplitMix64* rng) {
  return std::make_unique<DropoutStage>(rate, size, rng);
}

}  // namespace signfed::model::detail
