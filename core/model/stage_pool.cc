// Max, average and global average pooling (stage.h). No padding; a window's
// average divides by its full size.
#include <algorithm>
#include <vector>

#include "core/model/internal/layers.h"
#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

class PoolStage final : public Stage {
 public:
  PoolStage(PoolKind kind, const Window& win) : kind_(kind), g_(win) {}

  void reserve(std::size_t batch) override {
    out_.assign(out_size() * batch, 0.0f);
    if (kind_ == PoolKind::max) arg_.assign(out_.size(), 0);
  }

  const float* forward(const float* in, std::size_t batch, bool) override {
    if (kind_ == PoolKind::max) {
      maxpool_forward(g_, in, batch, out_.data(), arg_.data());
      return out_.data();
    }
    std::fill(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_size() * batch), 0.0f);
    for_each_window(batch, [&](std::size_t o, std::size_t i) { out_[o] += in[i]; });
    const float scale = 1.0f / static_cast<float>(window_size());
    for (std::size_t o = 0; o < out_size() * batch; ++o) out_[o] *= scale;
    return out_.data();
  }

  void backward(const float*, float* dout, std::size_t batch, float*, float* din) override {
    if (din == nullptr) return;
    std::fill(din, din + g_.h * g_.w * g_.c * batch, 0.0f);
    if (kind_ == PoolKind::max) {
      const std::size_t per_sample = out_size();
      for (std::size_t o = 0; o < per_sample * batch; ++o) {
        const std::size_t s = o / per_sample, ch = o % g_.c;
        din[(s * g_.h * g_.w + arg_[o]) * g_.c + ch] += dout[o];
      }
      return;
    }
    const float scale = 1.0f / static_cast<float>(window_size());
    for_each_window(batch, [&](std::size_t o, std::size_t i) { din[i] += dout[o] * scale; });
  }

 private:
  std::size_t window_size() const { return kind_ == PoolKind::global_avg ? g_.h * g_.w : g_.kh * g_.kw; }
  std::size_t out_size() const { return kind_ == PoolKind::global_avg ? g_.c : g_.positions() * g_.c; }

  // f(output index, input index) for every input float of every window.
  template <class F>
  void for_each_window(std::size_t batch, F f) const {
    const std::size_t c = g_.c, in_size = g_.h * g_.w * c;
    if (kind_ == PoolKind::global_avg) {
      for (std::size_t s = 0; s < batch; ++s) {
        for (std::size_t i = 0; i < in_size; ++i) f(s * c + i % c, s * in_size + i);
      }
      return;
    }
    const std::size_t ho = g_.ho(), wo = g_.wo();
    for (std::size_t s = 0; s < batch; ++s) {
      for (std::size_t py = 0; py < ho; ++py) {
        for (std::size_t px = 0; px < wo; ++px) {
          const std::size_t o = ((s * ho + py) * wo + px) * c;
          for (std::size_t ky = 0; ky < g_.kh; ++ky) {
            for (std::size_t kx = 0; kx < g_.kw; ++kx) {
              const std::size_t i = s * in_size + ((py * g_.stride + ky) * g_.w + px * g_.stride + kx) * c;
              for (std::size_t ch = 0; ch < c; ++ch) f(o + ch, i + ch);
            }
          }
        }
      }
    }
  }

  PoolKind kind_;
  Window g_;
  std::vector<float> out_;
  std::vector<std::uint32_t> arg_;  // max: winner position (iy*w + ix) per output
};

}  // namespace

std::unique_ptr<Stage> make_pool_stage(PoolKind kind, const Window& win) {
  return std::make_unique<PoolStage>(kind, win);
}

}  // namespace signfed::model::detail
