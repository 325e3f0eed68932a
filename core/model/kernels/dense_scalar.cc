// The reference dense kernels (train_kernels.h): plain loops, every dot
// product accumulated in float in index order, no FMA (the project builds
// with -ffp-contract=off). Slow on purpose; the definition, not a fast path.
#include "core/model/kernels/dense_variants.h"

namespace signfed::model::kernels {

void dense_forward_f32__scalar(const float* w, const float* b, std::size_t in, std::size_t out, const float* x,
                               std::size_t batch, float* z, bool relu) {
  for (std::size_t j = 0; j < batch; ++j) {
    const float* xj = x + j * in;
    for (std::size_t o = 0; o < out; ++o) {
      const float* wo = w + o * in;
      float acc = 0.0f;
      for (std::size_t k = 0; k < in; ++k) acc += wo[k] * xj[k];
      const float v = acc + b[o];
      z[j * out + o] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

void dense_backward_f32__scalar(const float* w, std::size_t in, std::size_t out, const float* x, const float* dz,
                                std::size_t batch, float* dw, float* db, float* dx) {
  // dw and db first: they are the last reads of x, which dx may alias.
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t k = 0; k < in; ++k) {
      float acc = 0.0f;
      for (std::size_t j = 0; j < batch; ++j) acc += dz[j * out + o] * x[j * in + k];
      dw[o * in + k] = acc;
    }
    float acc = 0.0f;
    for (std::size_t j = 0; j < batch; ++j) acc += dz[j * out + o];
    db[o] = acc;
  }
  if (dx == nullptr) return;
  for (std::size_t j = 0; j < batch; ++j) {
    for (std::size_t k = 0; k < in; ++k) {
      float acc = 0.0f;
      for (std::size_t o = 0; o < out; ++o) acc += w[o * in + k] * dz[j * out + o];
      dx[j * in + k] = acc;
    }
  }
}

}  // namespace signfed::model::kernels
