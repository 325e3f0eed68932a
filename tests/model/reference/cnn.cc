#include "tests/model/reference/cnn.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/model/init.h"
#include "core/model/internal/layers.h"

namespace signfed::model {
namespace {

// Stride-1 convolution over HWC images.
struct ConvGeom {
  std::size_t h, w, c, k, pad, cout;
  constexpr std::size_t ho() const { return h + 2 * pad - k + 1; }
  constexpr std::size_t wo() const { return w + 2 * pad - k + 1; }
  constexpr std::size_t positions() const { return ho() * wo(); }
  constexpr std::size_t patch() const { return k * k * c; }  // im2col rows
  constexpr std::size_t out_per_sample() const { return positions() * cout; }
};

constexpr ConvGeom kConv1{28, 28, 1, 5, 2, 6};   // -> 28x28x6
constexpr ConvGeom kConv2{14, 14, 6, 5, 0, 16};  // -> 10x10x16
constexpr std::size_t kPool1Out = 14 * 14 * 6;
constexpr std::size_t kPool2Out = 5 * 5 * 16;
constexpr std::size_t kFc1 = 120, kFc2 = 84, kClasses = 10;

// Flat parameter offsets (see cnn.h): W then b for conv1, conv2, fc1, fc2, fc3.
constexpr std::array<std::size_t, 11> kOffsets = [] {
  const std::array<std::size_t, 10> sizes = {kConv1.cout * kConv1.patch(), kConv1.cout,
                                             kConv2.cout * kConv2.patch(), kConv2.cout,
                                             kFc1 * kPool2Out, kFc1, kFc2 * kFc1, kFc2, kClasses * kFc2, kClasses};
  std::array<std::size_t, 11> o{};
  for (std::size_t i = 0; i < sizes.size(); ++i) o[i + 1] = o[i] + sizes[i];
  return o;
}();
static_assert(kOffsets[10] == Cnn::kNumParams);
static_assert(kConv1.ho() == 28 && kConv2.ho() == 10);

// cols (patch x positions*batch, column-major): column (s, oy, ox) holds the
// k x k x c input window at (oy - pad, ox - pad) in (ky, kx, ci) order, zeros
// outside the image. Templated on the geometry so interior rows are
// fixed-size copies the compiler inlines.
template <ConvGeom G>
void im2col(const float* in, std::size_t batch, float* cols) {
  constexpr std::size_t row = G.k * G.c;  // one kernel row: k pixels x c channels, contiguous in HWC
  constexpr auto h = static_cast<std::ptrdiff_t>(G.h);
  constexpr auto w = static_cast<std::ptrdiff_t>(G.w);
  constexpr auto k = static_cast<std::ptrdiff_t>(G.k);
  constexpr auto pad = static_cast<std::ptrdiff_t>(G.pad);
  for (std::size_t s = 0; s < batch; ++s) {
    const float* img = in + s * G.h * G.w * G.c;
    for (std::ptrdiff_t oy = 0; oy < static_cast<std::ptrdiff_t>(G.ho()); ++oy) {
      for (std::ptrdiff_t ox = 0; ox < static_cast<std::ptrdiff_t>(G.wo()); ++ox) {
        const std::ptrdiff_t ix0 = ox - pad;
        const std::ptrdiff_t kx_lo = std::max<std::ptrdiff_t>(0, -ix0);
        const std::ptrdiff_t kx_hi = std::min<std::ptrdiff_t>(k, w - ix0);
        const auto lo = static_cast<std::size_t>(kx_lo) * G.c;
        const auto hi = static_cast<std::size_t>(kx_hi) * G.c;
        for (std::ptrdiff_t ky = 0; ky < k; ++ky) {
          float* dst = cols;
          cols += row;
          const std::ptrdiff_t iy = oy + ky - pad;
          if (iy < 0 || iy >= h) {
            std::fill(dst, dst + row, 0.0f);
            continue;
          }
          // First in-image pixel of this kernel row (never before the image start).
          const float* src = img + static_cast<std::size_t>(iy * w + ix0 + kx_lo) * G.c;
          if (lo == 0 && hi == row) {
            std::memcpy(dst, src, row * sizeof(float));
          } else {
            std::fill(dst, dst + lo, 0.0f);
            std::copy(src, src + (hi - lo), dst + lo);
            std::fill(dst + hi, dst + row, 0.0f);
          }
        }
      }
    }
  }
}

// 2x2 stride-2 max pooling over HWC maps; arg gets the winning window slot
// (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right; first on ties).
void maxpool_forward(std::size_t h, std::size_t w, std::size_t c, const float* in, std::size_t batch,
                     float* out, std::uint8_t* arg) {
  const std::size_t slot[4] = {0, c, w * c, w * c + c};
  for (std::size_t s = 0; s < batch; ++s) {
    for (std::size_t py = 0; py < h / 2; ++py) {
      for (std::size_t px = 0; px < w / 2; ++px) {
        const float* base = in + ((s * h + 2 * py) * w + 2 * px) * c;
        for (std::size_t ch = 0; ch < c; ++ch) {
          float best = base[ch];
          std::uint8_t a = 0;
          for (std::uint8_t q = 1; q < 4; ++q) {
            const float v = base[slot[q] + ch];
            if (v > best) {
              best = v;
              a = q;
            }
          }
          *out++ = best;
          *arg++ = a;
        }
      }
    }
  }
}

// Backward of maxpool2x2(ReLU(conv(in))) for a conv with geometry G.
// Only each pool window's winner, and only if positive, passes gradient back,
// so 3/4 of the conv outputs have zero gradient: walking the winners does a
// quarter of the dense (GEMM) backward's work.
//   cols: the forward im2col buffer; y: the conv's ReLU output (HWC);
//   dpool, arg: pool output gradient and winning slots (see maxpool_forward).
// Overwrites dw (cout x patch), db (cout) and, if din != nullptr, din (the
// input image gradient, h x w x c per sample).
template <ConvGeom G>
void conv_relu_pool_backward(const float* w, const float* cols, const float* y, const float* dpool,
                             const std::uint8_t* arg, std::size_t batch, float* dw, float* db, float* din) {
  constexpr std::size_t wo = G.wo(), patch = G.patch(), row = G.k * G.c;
  std::fill(dw, dw + G.cout * patch, 0.0f);
  std::fill(db, db + G.cout, 0.0f);
  if (din != nullptr) std::fill(din, din + batch * G.h * G.w * G.c, 0.0f);
  for (std::size_t s = 0; s < batch; ++s) {
    for (std::size_t py = 0; py < G.ho() / 2; ++py) {
      for (std::size_t px = 0; px < wo / 2; ++px) {
        for (std::size_t co = 0; co < G.cout; ++co) {
          const std::uint8_t a = *arg++;
          const float g = *dpool++;
          const std::size_t oy = 2 * py + (a >> 1), ox = 2 * px + (a & 1);
          const std::size_t pos = (s * G.ho() + oy) * wo + ox;  // conv output column
          if (!(y[pos * G.cout + co] > 0.0f) || g == 0.0f) continue;
          db[co] += g;
          float* dwr = dw + co * patch;
          const float* col = cols + pos * patch;
          for (std::size_t i = 0; i < patch; ++i) dwr[i] += g * col[i];
          if (din == nullptr) continue;
          // Scatter g * W[co] back onto the input window, clipped at the border.
          const float* wr = w + co * patch;
          for (std::size_t ky = 0; ky < G.k; ++ky) {
            const auto iy = static_cast<std::ptrdiff_t>(oy + ky) - static_cast<std::ptrdiff_t>(G.pad);
            if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(G.h)) continue;
            const auto ix0 = static_cast<std::ptrdiff_t>(ox) - static_cast<std::ptrdiff_t>(G.pad);
            const std::size_t lo = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, -ix0)) * G.c;
            const std::size_t hi =
                static_cast<std::size_t>(std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(G.k),
                                                                  static_cast<std::ptrdiff_t>(G.w) - ix0)) * G.c;
            float* dst = din + ((s * G.h + static_cast<std::size_t>(iy)) * G.w) * G.c;
            dst += static_cast<std::size_t>(ix0 * static_cast<std::ptrdiff_t>(G.c) + static_cast<std::ptrdiff_t>(lo));
            const float* src = wr + ky * row;
            for (std::size_t i = lo; i < hi; ++i) dst[i - lo] += g * src[i];
          }
        }
      }
    }
  }
}

}  // namespace

std::array<std::size_t, 11> Cnn::tensor_offsets() { return kOffsets; }

Cnn::Cnn(std::uint64_t seed, Init init) : FlatModel("cnn", kNumParams) {
  detail::SplitMix64 rng(seed);
  const std::array<std::size_t, 5> fan = {kConv1.patch(), kConv2.patch(), kPool2Out, kFc1, kFc2 + kClasses};
  const std::array<std::size_t, 5> fan_in = {kConv1.patch(), kConv2.patch(), kPool2Out, kFc1, kFc2};
  for (std::size_t l = 0; l < 5; ++l) {
    const std::size_t w = kOffsets[2 * l];
    if (init == Init::torch) {  // weight then bias, U(+-1/sqrt(fan_in))
      detail::fill_uniform_symmetric(std::span<float>(params_).subspan(w, kOffsets[2 * l + 2] - w),
                                     detail::torch_limit(fan_in[l]), rng);
      continue;
    }
    detail::fill_uniform_symmetric(std::span<float>(params_).subspan(w, kOffsets[2 * l + 1] - w),
                                   detail::uniform_limit(fan[l]), rng);
  }

  const std::array<std::size_t, kNumBufs> sizes = {
      kConv1.patch() * kConv1.positions(),  // kCols1
      kConv1.out_per_sample(),              // kY1
      kPool1Out,                            // kP1
      kConv2.patch() * kConv2.positions(),  // kCols2
      kConv2.out_per_sample(),              // kY2
      kPool2Out, kFc1, kFc2, kClasses,      // kP2, kA3, kA4, kLogits
      kClasses, kFc2, kFc1, kPool2Out,      // kDLogits, kDA4, kDA3, kDP2
      kPool1Out,                            // kDP1
  };
  for (std::size_t i = 0; i < kNumBufs; ++i) buf_offset_[i + 1] = buf_offset_[i] + sizes[i];
}

void Cnn::allocate_scratch(std::size_t batch) {
  buf_.assign(buf_offset_[kNumBufs] * batch, 0.0f);
  pool_arg_.assign((kPool1Out + kPool2Out) * batch, 0);
}

void Cnn::forward(const float* x, std::size_t batch) {
  const float* p = params_.data();
  std::uint8_t* arg1 = pool_arg_.data();
  std::uint8_t* arg2 = arg1 + kPool1Out * capacity_;
  im2col<kConv1>(x, batch, buf(kCols1));
  detail::dense_forward(p + kOffsets[0], p + kOffsets[1], kConv1.patch(), kConv1.cout, buf(kCols1),
                        kConv1.positions() * batch, buf(kY1), true);
  maxpool_forward(28, 28, 6, buf(kY1), batch, buf(kP1), arg1);
  im2col<kConv2>(buf(kP1), batch, buf(kCols2));
  detail::dense_forward(p + kOffsets[2], p + kOffsets[3], kConv2.patch(), kConv2.cout, buf(kCols2),
                        kConv2.positions() * batch, buf(kY2), true);
  maxpool_forward(10, 10, 16, buf(kY2), batch, buf(kP2), arg2);
  detail::dense_forward(p + kOffsets[4], p + kOffsets[5], kPool2Out, kFc1, buf(kP2), batch, buf(kA3), true);
  detail::dense_forward(p + kOffsets[6], p + kOffsets[7], kFc1, kFc2, buf(kA3), batch, buf(kA4), true);
  detail::dense_forward(p + kOffsets[8], p + kOffsets[9], kFc2, kClasses, buf(kA4), batch, buf(kLogits), false);
}

double Cnn::backward(const float* /*x: in the im2col buffers*/, const std::uint8_t* y, std::size_t batch,
                     float* grad) {
  const float* p = params_.data();
  float* g = grad;
  const std::uint8_t* arg1 = pool_arg_.data();
  const std::uint8_t* arg2 = arg1 + kPool1Out * capacity_;
  const detail::XentResult xent = detail::softmax_xent(buf(kLogits), y, kClasses, batch, buf(kDLogits));

  detail::dense_backward(p + kOffsets[8], kFc2, kClasses, buf(kA4), buf(kDLogits), batch, g + kOffsets[8],
                         g + kOffsets[9], buf(kDA4));
  detail::relu_backward(buf(kDA4), buf(kA4), kFc2 * batch);
  detail::dense_backward(p + kOffsets[6], kFc1, kFc2, buf(kA3), buf(kDA4), batch, g + kOffsets[6],
                         g + kOffsets[7], buf(kDA3));
  detail::relu_backward(buf(kDA3), buf(kA3), kFc1 * batch);
  detail::dense_backward(p + kOffsets[4], kPool2Out, kFc1, buf(kP2), buf(kDA3), batch, g + kOffsets[4],
                         g + kOffsets[5], buf(kDP2));
  conv_relu_pool_backward<kConv2>(p + kOffsets[2], buf(kCols2), buf(kY2), buf(kDP2), arg2, batch,
                                  g + kOffsets[2], g + kOffsets[3], buf(kDP1));
  conv_relu_pool_backward<kConv1>(p + kOffsets[0], buf(kCols1), buf(kY1), buf(kDP1), arg1, batch,
                                  g + kOffsets[0], g + kOffsets[1], nullptr);
  return xent.loss_sum;
}

const float* Cnn::logits(const float* x, std::size_t b) {
  forward(x, b);
  return buf(kLogits);
}


}  // namespace signfed::model
