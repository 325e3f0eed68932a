// Input standardisation: x' = (x - mean) / std, fixed for a whole run.
//
// The statistics are determined once from the training data (per dataset for
// images: one mean and one standard deviation over every pixel of every
// training image, as torchvision's Normalize((0.2860,), (0.3530,)) for
// Fashion-MNIST), stored with the run and sent to every client in Welcome, so
// every replica sees the same transform; a client never standardises with its
// own local statistics. Raw inputs (the identity) when disabled.
//
// Two forms, one struct:
//  * scalar (images): `mean` and `std` apply to every feature — the form the
//    wire and the run database carry today;
//  * per feature (tabular): when `feature_mean` is non-empty, feature j uses
//    feature_mean[j] and feature_std[j] instead, and the scalar fields are
//    ignored. Both vectors have the dataset's feature count F. Built from
//    federated moments by standardisation_from (core/data/moments.h), which
//    never stores a 0 std (a constant feature gets std 1).
//
// Units: features as loaded (pixels scaled to [0, 1]; tabular values as in the
// file). Thread-safety: a plain value; apply() is a pure function.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace signfed::data {

struct Standardisation {
  bool enabled = false;
  float mean = 0.0f;
  float std = 1.0f;  // > 0 when enabled
  // Per-feature form, used instead of mean/std when non-empty; same size, every
  // std > 0.
  std::vector<float> feature_mean = {};
  std::vector<float> feature_std = {};

  bool per_feature() const { return !feature_mean.empty(); }

  // Standardises `in` into `out` (out.size() >= in.size()); in and out may
  // alias (element i is read before it is written).
  //  * disabled: a copy;
  //  * scalar: out[i] = (in[i] - mean) / std, any in.size();
  //  * per feature: `in` is whole rows, row-major, F = feature_mean.size()
  //    values per row (one sample or a batch): out[r*F + j] =
  //    (in[r*F + j] - feature_mean[j]) / feature_std[j]. Throws
  //    std::invalid_argument when in.size() is not a multiple of F (the
  //    model's input does not match the statistics).
  void apply(std::span<const float> in, std::span<float> out) const {
    if (!enabled) {
      if (out.data() != in.data())
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i];
      return;
    }
    if (!per_feature()) {
      for (std::size_t i = 0; i < in.size(); ++i) out[i] = (in[i] - mean) / std;
      return;
    }
    const std::size_t f = feature_mean.size();
    if (in.size() % f != 0 || feature_std.size() != f) {
      throw std::invalid_argument("standardisation: " + std::to_string(in.size()) +
                                  " values are not whole rows of " + std::to_string(f) +
                                  " features (statistics from another dataset?)");
    }
    for (std::size_t r = 0; r < in.size(); r += f)
      for (std::size_t j = 0; j < f; ++j) out[r + j] = (in[r + j] - feature_mean[j]) / feature_std[j];
  }
};

}  // namespace signfed::data
