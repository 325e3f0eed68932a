#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/moments.h"
#include "core/data/standardise.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using signfed::data::testing::data_error_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Dataset rows_of(std::size_t cols, const std::vector<float>& x) {
  Dataset ds;
  ds.cols = cols;
  ds.rows = x.size() / cols;
  ds.features = x;
  ds.labels.assign(ds.rows, 0);
  ds.classes = 1;
  return ds;
}

// Column 0: 1, 2, 3, 6 (mean 3, population var 3.5); column 1 constant 5;
// column 2: -1, 1, -1, 1 (mean 0, std 1).
const Dataset kAll = rows_of(3, {1, 5, -1, 2, 5, 1, 3, 5, -1, 6, 5, 1});
const Dataset kFirst = rows_of(3, {1, 5, -1});
const Dataset kRest = rows_of(3, {2, 5, 1, 3, 5, -1, 6, 5, 1});

}  // namespace

TEST_CASE("moments: per feature sums, and combine() equals the moments of the union") {
  const FeatureMoments all = feature_moments(kAll);
  CHECK(all.count == 4);
  CHECK(all.sum == std::vector<double>{12, 20, 0});
  CHECK(all.sum_sq == std::vector<double>{50, 100, 4});
  const FeatureMoments parts = combine(feature_moments(kFirst), feature_moments(kRest));
  CHECK(parts.count == all.count);
  CHECK(parts.sum == all.sum);
  CHECK(parts.sum_sq == all.sum_sq);
  // The default value is the identity, so a coordinator can fold replies from it.
  const FeatureMoments folded = combine(combine(FeatureMoments{}, feature_moments(kFirst)), feature_moments(kRest));
  CHECK(folded.sum == all.sum);
  CHECK(combine(all, FeatureMoments{}).sum_sq == all.sum_sq);
}

TEST_CASE("moments: standardisation per feature (constant feature gets std 1) and pooled") {
  const FeatureMoments m = feature_moments(kAll);
  const Standardisation per = standardisation_from(m, MomentPooling::per_feature);
  CHECK(per.enabled);
  CHECK(per.per_feature());
  CHECK(per.feature_mean == std::vector<float>{3, 5, 0});
  CHECK(per.feature_std[0] == doctest::Approx(std::sqrt(3.5)));
  CHECK(per.feature_std[1] == 1.0F);  // constant: centred only, no division by 0
  CHECK(per.feature_std[2] == 1.0F);
  // A constant but not exactly representable feature leaves a rounding residue
  // in E[x^2] - E[x]^2 (about 2e-14 of E[x^2] for 1000 x 0.7f): still treated as constant.
  const Standardisation tenth = standardisation_from(feature_moments(rows_of(1, std::vector<float>(1000, 0.7F))),
                                                     MomentPooling::per_feature);
  CHECK(tenth.feature_std[0] == 1.0F);

  const Standardisation pooled = standardisation_from(m, MomentPooling::pooled);
  CHECK(!pooled.per_feature());
  CHECK(pooled.mean == doctest::Approx(32.0 / 12.0));
  CHECK(pooled.std == doctest::Approx(std::sqrt(154.0 / 12.0 - (32.0 / 12.0) * (32.0 / 12.0))));
  CHECK(standardisation_from(feature_moments(rows_of(2, {4, 4, 4, 4})), MomentPooling::pooled).std == 1.0F);
}

TEST_CASE("moments: of chosen rows only (a board's training rows), in the order given") {
  const std::uint32_t rest[] = {3, 1, 2};  // kRest's rows of kAll, out of order
  const FeatureMoments m = feature_moments(kAll, rest);
  const FeatureMoments want = feature_moments(kRest);
  CHECK(m.count == 3);
  CHECK(m.sum == want.sum);
  CHECK(m.sum_sq == want.sum_sq);
  const std::uint32_t beyond[] = {0, 4};
  CHECK(contains(data_error_of([&] { feature_moments(kAll, beyond); }), "row 4 of 4"));
}

TEST_CASE("moments: errors") {
  CHECK(contains(data_error_of([] { combine(feature_moments(rows_of(2, {1, 2})), feature_moments(rows_of(3, {1, 2, 3}))); }),
                 "cannot combine moments of 2 and 3 features — every board must hold data of the same shape"));
  CHECK(contains(data_error_of([] { standardisation_from(FeatureMoments{}, MomentPooling::pooled); }),
                 "standardisation from moments of 0 samples and 0 features — no data"));
}

TEST_CASE("standardisation: apply over rows (per feature), scalar form unchanged") {
  const Standardisation per = standardisation_from(feature_moments(kAll), MomentPooling::per_feature);
  std::vector<float> batch = kAll.features;
  per.apply(batch, batch);  // in place, four rows at once
  for (std::size_t r = 0; r < 4; ++r) {
    CHECK(batch[3 * r + 0] == (kAll.features[3 * r] - 3.0F) / per.feature_std[0]);
    CHECK(batch[3 * r + 1] == 0.0F);
    CHECK(batch[3 * r + 2] == kAll.features[3 * r + 2]);
  }
  std::vector<float> out(2);
  CHECK_THROWS_AS(per.apply(std::vector<float>{1, 2}, out), std::invalid_argument);

  const Standardisation scalar{true, 0.5f, 0.25f};
  std::vector<float> y(3);
  scalar.apply(std::vector<float>{0.5F, 1.0F, 0.0F}, y);
  CHECK(y == std::vector<float>{0.0F, 2.0F, -2.0F});
  Standardisation off = per;
  off.enabled = false;
  off.apply(std::vector<float>{7, 8}, out);  // disabled: a copy, whatever the statistics
  CHECK(out == std::vector<float>{7, 8});
}
