#include "core/data/moments.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace signfed::data {
namespace {

// Population std from sums over n values; 1 for a constant (zero up to rounding) feature.
float std_or_one(double sum, double sum_sq, double n) {
  const double mean = sum / n;
  const double mean_sq = sum_sq / n;
  const double var = std::max(0.0, mean_sq - mean * mean);
  // Rounding leaves E[x^2] - E[x]^2 ~ 1e-16 * E[x^2] for a constant feature:
  // anything below (1e-6)^2 of it is treated as no spread at all.
  if (!(var > 1e-12 * mean_sq)) return 1.0F;
  return static_cast<float>(std::sqrt(var));
}

}  // namespace

namespace {
// Adds row r's float values (Dataset::row: scaled bytes, packed or not, or
// stored floats) to the sums; `scratch` holds cols floats.
void add_row(FeatureMoments& m, const Dataset& ds, std::size_t r, std::vector<float>& scratch) {
  ds.row(r, scratch);
  for (std::size_t j = 0; j < ds.cols; ++j) {
    const double v = scratch[j];
    m.sum[j] += v;
    m.sum_sq[j] += v * v;
  }
}
}  // namespace

FeatureMoments feature_moments(const Dataset& ds) {
  FeatureMoments m;
  m.count = ds.rows;
  m.sum.assign(ds.cols, 0.0);
  m.sum_sq.assign(ds.cols, 0.0);
  std::vector<float> scratch(ds.cols);
  for (std::size_t r = 0; r < ds.rows; ++r) add_row(m, ds, r, scratch);
  return m;
}

FeatureMoments feature_moments(const Dataset& ds, std::span<const std::uint32_t> rows) {
  FeatureMoments m;
  m.count = rows.size();
  m.sum.assign(ds.cols, 0.0);
  m.sum_sq.assign(ds.cols, 0.0);
  std::vector<float> scratch(ds.cols);
  for (std::uint32_t r : rows) {
    if (r >= ds.rows) throw DataError("moments: row " + std::to_string(r) + " of " + std::to_string(ds.rows));
    add_row(m, ds, r, scratch);
  }
  return m;
}

FeatureMoments combine(const FeatureMoments& a, const FeatureMoments& b) {
  if (a.sum.empty() && a.count == 0) return b;
  if (b.sum.empty() && b.count == 0) return a;
  if (a.sum.size() != b.sum.size() || a.sum_sq.size() != a.sum.size() || b.sum_sq.size() != b.sum.size()) {
    throw DataError("cannot combine moments of " + std::to_string(a.sum.size()) + " and " +
                    std::to_string(b.sum.size()) + " features — every board must hold data of the same shape");
  }
  FeatureMoments m = a;
  m.count += b.count;
  for (std::size_t j = 0; j < m.sum.size(); ++j) {
    m.sum[j] += b.sum[j];
    m.sum_sq[j] += b.sum_sq[j];
  }
  return m;
}

Standardisation standardisation_from(const FeatureMoments& m, MomentPooling pooling) {
  if (m.count == 0 || m.sum.empty() || m.sum_sq.size() != m.sum.size()) {
    throw DataError("standardisation from moments of " + std::to_string(m.count) + " samples and " +
                    std::to_string(m.sum.size()) + " features — no data to compute statistics from");
  }
  Standardisation s;
  s.enabled = true;
  const double n = static_cast<double>(m.count);
  if (pooling == MomentPooling::pooled) {
    double sum = 0.0;
    double sum_sq = 0.0;
    for (std::size_t j = 0; j < m.sum.size(); ++j) {
      sum += m.sum[j];
      sum_sq += m.sum_sq[j];
    }
    const double values = n * static_cast<double>(m.sum.size());
    s.mean = static_cast<float>(sum / values);
    s.std = std_or_one(sum, sum_sq, values);
    return s;
  }
  s.feature_mean.resize(m.sum.size());
  s.feature_std.resize(m.sum.size());
  for (std::size_t j = 0; j < m.sum.size(); ++j) {
    s.feature_mean[j] = static_cast<float>(m.sum[j] / n);
    s.feature_std[j] = std_or_one(m.sum[j], m.sum_sq[j], n);
  }
  return s;
}

}  // namespace signfed::data
