// conv1d / conv2d as im2col + GEMM (the dense kernels of layers.h over every
// output position), optionally with the relu and a max pool after it fused
// (stage.h).
//
// Backward with a fused max pool walks only the pool winners: each passes its
// gradient to one conv output, so a 2x2 pool does a quarter of the GEMM
// backward's work. Without a pool the backward is dense_backward over the
// im2col columns, then col2im.
//
// The stage is a template over its geometry (window_ops.h): LeNet-5's two
// conv+relu+pool blocks (the cnn preset) get compile-time instances, every
// other geometry the runtime one; same operations, same order, same floats.
#include <algorithm>
#include <vector>

#include "core/model/internal/layers.h"
#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

// G: the conv's geometry, P: the fused pool's over the conv output (P{}.kh
// == 0 with the runtime Window: no pool).
template <class G, class P>
class ConvStage final : public Stage {
 public:
  ConvStage(const float* w, const G& conv, std::size_t filters, bool relu, const P& pool)
      : w_(w), g_(conv), cout_(filters), relu_(relu), pool_(pool) {}

  void reserve(std::size_t batch) override {
    cols_.assign(patch() * g_.positions() * batch, 0.0f);
    y_.assign(cout_ * g_.positions() * batch, 0.0f);
    if (pooled()) {
      pooled_.assign(pool_.positions() * cout_ * batch, 0.0f);
      arg_.assign(pooled_.size(), 0);
    }
  }

  const float* forward(const float* in, std::size_t batch, bool) override {
    im2col(g_, in, batch, cols_.data());
    dense_forward(w_, w_ + cout_ * patch(), patch(), cout_, cols_.data(), g_.positions() * batch, y_.data(), relu_);
    if (!pooled()) return y_.data();
    maxpool_forward(pool_, y_.data(), batch, pooled_.data(), arg_.data());
    return pooled_.data();
  }

  void backward(const float* /*in: in cols_*/, float* dout, std::size_t batch, float* grad, float* din) override {
    if (pooled()) return backward_pooled(dout, batch, grad, din);
    const std::size_t n = g_.positions() * batch;
    if (relu_) relu_backward(dout, y_.data(), cout_ * n);
    // dcols overwrites cols (dense_backward reads x before writing dx).
    dense_backward(w_, patch(), cout_, cols_.data(), dout, n, grad, grad + cout_ * patch(),
                   din != nullptr ? cols_.data() : nullptr);
    if (din == nullptr) return;
    std::fill(din, din + g_.h * g_.w * g_.c * batch, 0.0f);
    col2im(g_, cols_.data(), batch, din);
  }

 private:
  bool pooled() const { return pool_.kh != 0; }
  // Compile-time constants for a FixedWindow G.
  std::size_t patch() const { return g_.kh * g_.kw * g_.c; }

  // Each pool winner with a nonzero gradient (and, with relu, a positive
  // output) adds g x its window to dW, g to db and g x W[co] onto din.
  void backward_pooled(const float* dpool, std::size_t batch, float* dw, float* din) {
    const std::size_t pos_per_sample = g_.positions(), wo = g_.wo(), row = g_.kw * g_.c;
    float* db = dw + pool_.c * patch();
    std::fill(dw, dw + pool_.c * patch(), 0.0f);
    std::fill(db, db + pool_.c, 0.0f);
    if (din != nullptr) std::fill(din, din + batch * g_.h * g_.w * g_.c, 0.0f);
    const std::uint32_t* arg = arg_.data();
    const float* y = y_.data();
    const float* cols = cols_.data();
    const std::size_t outs = pool_.positions();
    for (std::size_t s = 0; s < batch; ++s) {
      for (std::size_t q = 0; q < outs; ++q) {
        for (std::size_t co = 0; co < pool_.c; ++co) {
          const std::size_t p = *arg++;
          const float g = *dpool++;
          const std::size_t pos = s * pos_per_sample + p;  // conv output column
          if ((relu_ && !(y[pos * pool_.c + co] > 0.0f)) || g == 0.0f) continue;
          db[co] += g;
          float* dwr = dw + co * patch();
          const float* col = cols + pos * patch();
          for (std::size_t i = 0; i < patch(); ++i) dwr[i] += g * col[i];
          if (din == nullptr) continue;
          const std::size_t oy = p / wo, ox = p % wo;
          const Diff ix0 = static_cast<Diff>(ox * g_.stride) - static_cast<Diff>(g_.pad_w);
          const RowSpan sp = clip_row(g_, ix0);
          const float* wr = w_ + co * patch();
          for (std::size_t ky = 0; ky < g_.kh; ++ky) {
            const Diff iy = static_cast<Diff>(oy * g_.stride + ky) - static_cast<Diff>(g_.pad_h);
            if (iy < 0 || iy >= static_cast<Diff>(g_.h) || sp.lo >= sp.hi) continue;
            float* dst = din + s * g_.h * g_.w * g_.c + row_offset(g_, iy, ix0, sp);
            const float* src = wr + ky * row;
            for (std::size_t i = sp.lo; i < sp.hi; ++i) dst[i - sp.lo] += g * src[i];
          }
        }
      }
    }
  }

  const float* w_;
  G g_;
  std::size_t cout_;
  bool relu_;
  P pool_;
  std::vector<float> cols_, y_, pooled_;
  std::vector<std::uint32_t> arg_;
};

// LeNet-5 (the cnn preset, spec.h): conv1 28x28x1 5x5 pad 2 -> 6, pool 2x2; conv2 14x14x6 5x5 -> 16, pool 2x2.
using LeNetConv1 = FixedWindow<28, 28, 1, 5, 5, 1, 2, 2>;
using LeNetPool1 = FixedWindow<28, 28, 6, 2, 2, 2, 0, 0>;
using LeNetConv2 = FixedWindow<14, 14, 6, 5, 5, 1, 0, 0>;
using LeNetPool2 = FixedWindow<10, 10, 16, 2, 2, 2, 0, 0>;

template <class G, class P>
std::unique_ptr<Stage> fixed_if(const float* w, const Window& conv, std::size_t filters, bool relu,
                                const Window& pool) {
  if (!(conv == G::runtime() && pool == P::runtime() && filters == P::c)) return nullptr;
  return std::make_unique<ConvStage<G, P>>(w, G{}, filters, relu, P{});
}

}  // namespace

std::unique_ptr<Stage> make_conv_stage(const float* w, const Window& conv, std::size_t filters, bool relu,
                                       const Window& pool, bool specialise) {
  if (specialise) {
    if (auto s = fixed_if<LeNetConv1, LeNetPool1>(w, conv, filters, relu, pool)) return s;
    if (auto s = fixed_if<LeNetConv2, LeNetPool2>(w, conv, filters, relu, pool)) return s;
  }
  return std::make_unique<ConvStage<Window, Window>>(w, conv, filters, relu, pool);
}

}  // namespace signfed::model::detail
