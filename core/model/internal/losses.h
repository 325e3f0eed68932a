// Internal: the losses of spec.h over a (K x batch) output matrix (sample j's
// K outputs contiguous). Sums and gradients in double per sample.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/model/internal/layers.h"
#include "core/model/spec.h"

namespace signfed::model::detail {

// Summed (not mean) loss and the number of correct samples (spec.h's
// accuracy rule per loss). If dout != nullptr, writes d(mean loss)/d(outputs)
// into it. Labels must already be validated (< num_classes).
XentResult apply_loss(Loss loss, const float* out, const std::uint8_t* y, std::size_t k, std::size_t batch,
                      float* dout);

}  // namespace signfed::model::detail
