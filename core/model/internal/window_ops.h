// Internal: sliding-window kernels over HWC images (im2col, col2im, max pool)
// for convolutions and pools, written once over a geometry type G:
//   Window              runtime sizes, any model file;
//   FixedWindow<...>    the same fields as compile-time constants, so the
//                       loops over a kernel row become fixed-size copies the
//                       compiler unrolls (the presets' geometries, where
//                       LayeredModel must be as fast as the old hand-written Cnn).
// Both run the same operations in the same order: the results are bit-identical
// (tests/model/layered_model_test.cc holds them equal).
//
// 1-d layers are the h = 1 case: window height 1, no vertical padding.
// Nothing here allocates; callers pass scratch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace signfed::model::detail {

struct Window {
  std::size_t h = 1, w = 1, c = 1;   // input
  std::size_t kh = 1, kw = 1;        // window
  std::size_t stride = 1;            // both directions (1-d: h = kh = 1, one output row)
  std::size_t pad_h = 0, pad_w = 0;  // zeros on each side (pools: 0)
  std::size_t ho() const { return (h + 2 * pad_h - kh) / stride + 1; }
  std::size_t wo() const { return (w + 2 * pad_w - kw) / stride + 1; }
  std::size_t positions() const { return ho() * wo(); }
  bool operator==(const Window&) const = default;
};

template <std::size_t H, std::size_t W, std::size_t C, std::size_t KH, std::size_t KW, std::size_t S,
          std::size_t PH, std::size_t PW>
struct FixedWindow {
  static constexpr std::size_t h = H, w = W, c = C, kh = KH, kw = KW, stride = S, pad_h = PH, pad_w = PW;
  static constexpr std::size_t ho() { return (h + 2 * pad_h - kh) / stride + 1; }
  static constexpr std::size_t wo() { return (w + 2 * pad_w - kw) / stride + 1; }
  static constexpr std::size_t positions() { return ho() * wo(); }
  static constexpr Window runtime() { return {H, W, C, KH, KW, S, PH, PW}; }
};

using Diff = std::ptrdiff_t;

// Floats [lo, hi) of a kernel row (kw pixels x c channels) starting at input
// column ix0 that lie inside the image (lo == hi: none).
struct RowSpan {
  std::size_t lo, hi;
};
template <class G>
RowSpan clip_row(const G& g, Diff ix0) {
  const Diff kx_lo = std::max<Diff>(0, -ix0);
  const Diff kx_hi = std::max(kx_lo, std::min<Diff>(static_cast<Diff>(g.kw), static_cast<Diff>(g.w) - ix0));
  return {static_cast<std::size_t>(kx_lo) * g.c, static_cast<std::size_t>(kx_hi) * g.c};
}

// Offset in one image of float [lo] of the kernel row at input row iy,
// starting at column ix0 (iy inside the image, lo < hi): never before the image.
template <class G>
std::size_t row_offset(const G& g, Diff iy, Diff ix0, RowSpan sp) {
  return static_cast<std::size_t>((iy * static_cast<Diff>(g.w) + ix0) * static_cast<Diff>(g.c) +
                                  static_cast<Diff>(sp.lo));
}

// cols (kh*kw*c x positions*batch, column-major): column (s, oy, ox) holds the
// window at (oy*stride - pad_h, ox*stride - pad_w) in (ky, kx, c) order,
// zeros outside the image.
// noinline (here and in maxpool_forward): inlined into a stage's forward, the
// loop counters spill to the stack (cnn step 1.13x the old Cnn's; 1.01x alone).
template <class G>
[[gnu::noinline]] void im2col(const G& g, const float* in, std::size_t batch, float* cols) {
  const std::size_t row = g.kw * g.c, ho = g.ho(), wo = g.wo();
  for (std::size_t s = 0; s < batch; ++s) {
    const float* img = in + s * g.h * g.w * g.c;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const Diff ix0 = static_cast<Diff>(ox * g.stride) - static_cast<Diff>(g.pad_w);
        const RowSpan sp = clip_row(g, ix0);
        for (std::size_t ky = 0; ky < g.kh; ++ky) {
          float* dst = cols;
          cols += row;
          const Diff iy = static_cast<Diff>(oy * g.stride + ky) - static_cast<Diff>(g.pad_h);
          if (iy < 0 || iy >= static_cast<Diff>(g.h) || sp.lo >= sp.hi) {
            std::fill(dst, dst + row, 0.0f);
            continue;
          }
          const float* src = img + row_offset(g, iy, ix0, sp);
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
template <class G>
void col2im(const G& g, const float* cols, std::size_t batch, float* din) {
  const std::size_t row = g.kw * g.c, ho = g.ho(), wo = g.wo();
  for (std::size_t s = 0; s < batch; ++s) {
    float* img = din + s * g.h * g.w * g.c;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const Diff ix0 = static_cast<Diff>(ox * g.stride) - static_cast<Diff>(g.pad_w);
        const RowSpan sp = clip_row(g, ix0);
        for (std::size_t ky = 0; ky < g.kh; ++ky) {
          const float* src = cols;
          cols += row;
          const Diff iy = static_cast<Diff>(oy * g.stride + ky) - static_cast<Diff>(g.pad_h);
          if (iy < 0 || iy >= static_cast<Diff>(g.h) || sp.lo >= sp.hi) continue;
          float* dst = img + row_offset(g, iy, ix0, sp);
          for (std::size_t i = sp.lo; i < sp.hi; ++i) dst[i - sp.lo] += src[i];
        }
      }
    }
  }
}

// Max pool (no padding): out gets ho x wo x c per sample, arg the winner's
// input position (iy*w + ix) per output, the first maximum in (ky, kx) order.
template <class G>
[[gnu::noinline]] void maxpool_forward(const G& g, const float* in, std::size_t batch, float* out,
                                       std::uint32_t* arg) {
  const std::size_t ho = g.ho(), wo = g.wo(), c = g.c;
  for (std::size_t s = 0; s < batch; ++s) {
    const float* img = in + s * g.h * g.w * c;
    for (std::size_t py = 0; py < ho; ++py) {
      for (std::size_t px = 0; px < wo; ++px) {
        const std::size_t first = py * g.stride * g.w + px * g.stride;  // window's top-left position
        const float* base = img + first * c;
        for (std::size_t ch = 0; ch < c; ++ch) {
          float best = base[ch];
          std::size_t at = 0;  // winner's position relative to first
          for (std::size_t ky = 0; ky < g.kh; ++ky) {
            for (std::size_t kx = 0; kx < g.kw; ++kx) {
              const float v = base[(ky * g.w + kx) * c + ch];
              if (v > best) {
                best = v;
                at = ky * g.w + kx;
              }
            }
          }
          *out++ = best;
          *arg++ = static_cast<std::uint32_t>(first + at);
        }
      }
    }
  }
}

}  // namespace signfed::model::detail
