// Federated standardisation statistics: per-feature moments that boards
// compute on their own data and the coordinator adds up, so the run's
// Standardisation comes from all the training data without any sample
// leaving its board.
//
// FeatureMoments holds, over `count` samples, the sum and the sum of squares
// of every feature (F = sum.size() = sum_sq.size()), in double. They add
// exactly like counts (up to rounding), so combine() is associative and a
// coordinator can fold replies in any order. The moments of a default
// FeatureMoments{} (count 0, no features) are the identity of combine().
//
// Precision: variance is E[x^2] - E[x]^2 in double; for features whose mean
// is large against their spread (|mean|/std beyond ~1e6) centre them first.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/standardise.h"

namespace signfed::data {

struct FeatureMoments {
  std::uint64_t count = 0;     // samples
  std::vector<double> sum;     // per feature: sum of x
  std::vector<double> sum_sq;  // per feature: sum of x^2
};

// Moments of every feature of ds (F = ds.cols, count = ds.rows).
FeatureMoments feature_moments(const Dataset& ds);
// Moments of the given rows of ds only (a board's training rows, its hold-out
// cut away), in the order given. Each index must be < ds.rows.
FeatureMoments feature_moments(const Dataset& ds, std::span<const std::uint32_t> rows);

// The moments of the union of a's and b's samples. Throws DataError when
// both have features and their counts differ (boards with different data).
FeatureMoments combine(const FeatureMoments& a, const FeatureMoments& b);

enum class MomentPooling {
  per_feature,  // tabular: one mean/std per column (Standardisation::feature_mean/feature_std)
  pooled,       // images: one mean/std over every feature of every sample (Standardisation::mean/std)
};

// An enabled Standardisation with population statistics (divide by n) from
// m. A constant feature (std below 1e-6 of its root mean square, i.e. zero
// up to rounding) gets std 1, so it is only centred (becomes 0) rather than
// divided by zero; likewise the pooled std when every value is the same.
// Throws DataError when m holds no samples or no features.
Standardisation standardisation_from(const FeatureMoments& m, MomentPooling pooling);

}  // namespace signfed::data
