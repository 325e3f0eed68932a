// Input standardisation: x' = (x - mean) / std, fixed for a whole run.
//
// The statistics are determined once from the training data (per dataset for
// images: one mean and one standard deviation over every pixel of every
// training image, as torchvision's Normalize((0.2860,), (0.3530,)) for
// Fashion-MNIST), stored with the run and sent to every client in Welcome, so
// every replica sees the same transform; a client never standardises with its
// own local statistics. Raw inputs (the identity) when disabled.
//
// Units: features as loaded (pixels scaled to [0, 1]). Thread-safety: a plain
// value; apply() is a pure function.
#pragma once

#include <cstddef>
#include <span>

namespace signfed::data {

struct Standardisation {
  bool enabled = false;
  float mean = 0.0f;
  float std = 1.0f;  // > 0 when enabled

  // out[i] = (in[i] - mean) / std, or a copy when disabled; in and out may alias.
  void apply(std::span<const float> in, std::span<float> out) const {
    if (!enabled) {
      if (out.data() != in.data())
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
      return;
    }
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = (in[i] - mean) / std;
  }
};

}  // namespace signfed::data
