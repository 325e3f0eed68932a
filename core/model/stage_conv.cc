// conv1d / conv2d as im2col + GEMM (the dense kernels of layers.h over every
// output position), optionally with the relu and a max pool after it fused
// (stage.h).
//
// Backward with a fused max pool walks only the pool winners: each passes its
// gradient to one conv output, so a 2x2 pool does a quarter of the GEMM
// backward's work. Without a pool the backward is dense_backward over the
// im2col columns, then col2im.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/model/internal/layers.h"
#include "core/model/internal/stage.h"

namespace signfed::model::detail {
namespace {

using Diff = std::ptrdiff_t;

// The clipped horizontal extent of a window starting at input column ix0:
// floats [lo, hi) of a kernel row (kw pixels x c channels) lie inside the image.
struct Span {
  std::size_t lo, hi;
};
Span clip_row(const Window& g, Diff ix0) {
  const Diff kx_lo = std::max<Diff>(0, -ix0);
  const Diff kx_hi = std::max(kx_lo, std::min<Diff>(static_cast<Diff>(g.kw), static_cast<Diff>(g.w) - ix0));
  return {static_cast<std::size_t>(kx_lo) * g.c, static_cast<std::size_t>(kx_hi) * g.c};
}

// Offset in a sample's image of the first in-image float [lo] of the kernel
// row at input row iy, starting at column ix0 (iy inside the image, lo < hi).
std::size_t offset(const Window& g, Diff iy, Diff ix0, Span sp) {
  return static_cast<std::size_t>((iy * static_cast<Diff>(g.w) + ix0) * static_cast<Diff>(g.c) +
                                  static_cast<Diff>(sp.lo));
}

// cols (patch x positions*batch, column-major): column (s, oy, ox) holds the
// kh x kw x c input window at (oy*stride - pad_h, ox*stride - pad_w) in
// (ky, kx, c) order, zeros outside the image.
void im2col(const Window& g, const float* in, std::size_t batch, float* cols) {
  const std::size_t row = g.kw * g.c, ho = g.ho(), wo = g.wo();
  for (std::size_t s = 0; s < batch; ++s) {
    const float* img = in + s * g.h * g.w * g.c;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const Diff ix0 = static_cast<Diff>(ox * g.stride) - static_cast<Diff>(g.pad_w);
        const Span sp = clip_row(g, ix0);
        for (std::size_t ky = 0; ky < g.kh; ++ky) {
          float* dst = cols;
          cols += row;
          const Diff iy = static_cast<Diff>(oy * g.stride + ky) - static_cast<Diff>(g.pad_h);
          if (iy < 0 || iy >= static_cast<Diff>(g.h) || sp.lo >= sp.hi) {
            std::fill(dst, dst + row, 0.0f);
            continue;
          }
          // First in-image float of this kernel row (never before the image start).
          const float* src = img + offset(g, iy, ix0, sp);
          if (sp.lo == 0 && sp.hi == row) {
            std::memcpy(dst, src, row * sizeof(float));
          } else {
            std::fill(dst, dst + sp.lo, 0.0f);
            std::copy(src, src + (sp.hi - sp.lo), dst + sp.lo);
            std::fill(dst + sp.hi, dst + row, 0.0f);
          }
        }
      }
    }
  }
}

// din += the columns scattered back onto their windows (im2col's adjoint).
void col2im(const Window& g, const float* cols, std::size_t batch, float* din) {
  const std::size_t row = g.kw * g.c, ho = g.ho(), wo = g.wo();
  for (std::size_t s = 0; s < batch; ++s) {
    float* img = din + s * g.h * g.w * g.c;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const Diff ix0 = static_cast<Diff>(ox * g.stride) - static_cast<Diff>(g.pad_w);
        const Span sp = clip_row(g, ix0);
        for (std::size_t ky = 0; ky < g.kh; ++ky) {
          const float* src = cols;
          cols += row;
          const Diff iy = static_cast<Diff>(oy * g.stride + ky) - static_cast<Diff>(g.pad_h);
          if (iy < 0 || iy >= static_cast<Diff>(g.h)) continue;
          if (sp.lo >= sp.hi) continue;
          float* dst = img + offset(g, iy, ix0, sp);
          for (std::size_t i = sp.lo; i < sp.hi; ++i) dst[i - sp.lo] += src[i];
        }
      }
    }
  }
}

class ConvStage final : public Stage {
 public:
  ConvStage(const float* w, const Window& conv, std::size_t filters, bool relu, const Window& pool)
      : w_(w), g_(conv), cout_(filters), patch_(conv.kh * conv.kw * conv.c), relu_(relu), pool_(pool) {}

  void reserve(std::size_t batch) override {
    cols_.assign(patch_ * g_.positions() * batch, 0.0f);
    y_.assign(cout_ * g_.positions() * batch, 0.0f);
    if (pooled()) {
      pooled_.assign(pool_.positions() * cout_ * batch, 0.0f);
      arg_.assign(pooled_.size(), 0);
    }
  }

  const float* forward(const float* in, std::size_t batch, bool) override {
    im2col(g_, in, batch, cols_.data());
    dense_forward(w_, w_ + cout_ * patch_, patch_, cout_, cols_.data(), g_.positions() * batch, y_.data(), relu_);
    if (!pooled()) return y_.data();
    maxpool_forward(pool_, y_.data(), batch, pooled_.data(), arg_.data());
    return pooled_.data();
  }

  void backward(const float* /*in: in cols_*/, float* dout, std::size_t batch, float* grad, float* din) override {
    if (pooled()) return backward_pooled(dout, batch, grad, din);
    const std::size_t n = g_.positions() * batch;
    if (relu_) relu_backward(dout, y_.data(), cout_ * n);
    // dcols overwrites cols (dense_backward reads x before writing dx).
    dense_backward(w_, patch_, cout_, cols_.data(), dout, n, grad, grad + cout_ * patch_,
                   din != nullptr ? cols_.data() : nullptr);
    if (din == nullptr) return;
    std::fill(din, din + g_.h * g_.w * g_.c * batch, 0.0f);
    col2im(g_, cols_.data(), batch, din);
  }

 private:
  bool pooled() const { return pool_.kh != 0; }

  // Each pool winner with a nonzero gradient (and, with relu, a positive
  // output) adds g x its window to dW, g to db and g x W[co] onto din.
  void backward_pooled(const float* dpool, std::size_t batch, float* dw, float* din) {
    const std::size_t pos_per_sample = g_.positions(), wo = g_.wo(), row = g_.kw * g_.c;
    float* db = dw + cout_ * patch_;
    std::fill(dw, dw + cout_ * patch_, 0.0f);
    std::fill(db, db + cout_, 0.0f);
    if (din != nullptr) std::fill(din, din + batch * g_.h * g_.w * g_.c, 0.0f);
    const std::uint32_t* arg = arg_.data();
    const std::size_t outs = pool_.positions();
    for (std::size_t s = 0; s < batch; ++s) {
      for (std::size_t q = 0; q < outs; ++q) {
        for (std::size_t co = 0; co < cout_; ++co) {
          const std::size_t p = *arg++;
          const float g = *dpool++;
          const std::size_t pos = s * pos_per_sample + p;  // conv output column
          if ((relu_ && !(y_[pos * cout_ + co] > 0.0f)) || g == 0.0f) continue;
          db[co] += g;
          float* dwr = dw + co * patch_;
          const float* col = cols_.data() + pos * patch_;
          for (std::size_t i = 0; i < patch_; ++i) dwr[i] += g * col[i];
          if (din == nullptr) continue;
          const std::size_t oy = p / wo, ox = p % wo;
          const Diff ix0 = static_cast<Diff>(ox * g_.stride) - static_cast<Diff>(g_.pad_w);
          const Span sp = clip_row(g_, ix0);
          const float* wr = w_ + co * patch_;
          for (std::size_t ky = 0; ky < g_.kh; ++ky) {
            const Diff iy = static_cast<Diff>(oy * g_.stride + ky) - static_cast<Diff>(g_.pad_h);
            if (iy < 0 || iy >= static_cast<Diff>(g_.h) || sp.lo >= sp.hi) continue;
            float* dst = din + s * g_.h * g_.w * g_.c + offset(g_, iy, ix0, sp);
            const float* src = wr + ky * row;
            for (std::size_t i = sp.lo; i < sp.hi; ++i) dst[i - sp.lo] += g * src[i];
          }
        }
      }
    }
  }

  const float* w_;
  Window g_;
  std::size_t cout_, patch_;
  bool relu_;
  Window pool_;  // over the conv output; kh == 0: no fused pool
  std::vector<float> cols_, y_, pooled_;
  std::vector<std::uint32_t> arg_;
};

}  // namespace

std::unique_ptr<Stage> make_conv_stage(const float* w, const Window& conv, std::size_t filters, bool relu,
                                       const Window& pool) {
  return std::make_unique<ConvStage>(w, conv, filters, relu, pool);
}

}  // namespace signfed::model::detail
