// The losses of spec.h (internal/losses.h).
#include <algorithm>
#include <cmath>

#include "core/model/internal/losses.h"

namespace signfed::model::detail {
namespace {

// Binary cross-entropy of one logit z against t in {0, 1}:
// log(1 + e^z) - t z, written as max(z, 0) - t z + log1p(e^-|z|) (no overflow).
XentResult binary_xent(const float* out, const std::uint8_t* y, std::size_t batch, float* dout) {
  XentResult r;
  const double inv_batch = 1.0 / static_cast<double>(batch);
  for (std::size_t j = 0; j < batch; ++j) {
    const double z = out[j], t = y[j];
    r.loss_sum += std::max(z, 0.0) - t * z + std::log1p(std::exp(-std::fabs(z)));
    if ((z > 0.0) == (y[j] == 1)) ++r.correct;
    if (dout != nullptr) dout[j] = static_cast<float>((1.0 / (1.0 + std::exp(-z)) - t) * inv_batch);
  }
  return r;
}

// Mean over the K outputs of (o - t)^2, t = one-hot(label) (K >= 2) or the
// label's value (K == 1).
XentResult squared_error(const float* out, const std::uint8_t* y, std::size_t k, std::size_t batch, float* dout) {
  XentResult r;
  const double scale = 2.0 / (static_cast<double>(k) * static_cast<double>(batch));
  for (std::size_t j = 0; j < batch; ++j) {
    const float* o = out + j * k;
    double sum = 0.0;
    std::size_t arg = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const double t = k == 1 ? static_cast<double>(y[j]) : (i == y[j] ? 1.0 : 0.0);
      const double e = static_cast<double>(o[i]) - t;
      sum += e * e;
      if (o[i] > o[arg]) arg = i;
      if (dout != nullptr) dout[j * k + i] = static_cast<float>(e * scale);
    }
    r.loss_sum += sum / static_cast<double>(k);
    const bool hit = k == 1 ? std::round(static_cast<double>(o[0])) == static_cast<double>(y[j]) : arg == y[j];
    if (hit) ++r.correct;
  }
  return r;
}

}  // namespace

XentResult apply_loss(Loss loss, const float* out, const std::uint8_t* y, std::size_t k, std::size_t batch,
                      float* dout) {
  switch (loss) {
    case Loss::binary_cross_entropy: return binary_xent(out, y, batch, dout);
    case Loss::mean_squared_error: return squared_error(out, y, k, batch, dout);
    case Loss::softmax_cross_entropy: break;
  }
  return softmax_xent(out, y, k, batch, dout);
}

}  // namespace signfed::model::detail
