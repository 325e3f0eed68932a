#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/holdout.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using signfed::data::testing::data_error_of;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// n samples of 2 features; sample i is (i, -i) with label i % 3, so every
// row can be traced back to its index.
Dataset numbered(std::size_t n) {
  Dataset ds;
  ds.rows = n;
  ds.cols = 2;
  ds.classes = 5;  // more than the labels used: the parts keep it
  ds.sample_shape = {2};
  for (std::size_t i = 0; i < n; ++i) {
    ds.features.push_back(static_cast<float>(i));
    ds.features.push_back(-static_cast<float>(i));
    ds.labels.push_back(static_cast<std::uint8_t>(i % 3));
  }
  return ds;
}

std::vector<std::size_t> ids(const Dataset& ds) {
  std::vector<std::size_t> out;
  for (std::size_t r = 0; r < ds.rows; ++r) {
    CHECK(ds.features[2 * r + 1] == -ds.features[2 * r]);
    const auto i = static_cast<std::size_t>(ds.features[2 * r]);
    CHECK(ds.labels[r] == i % 3);
    out.push_back(i);
  }
  return out;
}

}  // namespace

TEST_CASE("holdout: every sample in exactly one part, sizes, order, class count kept") {
  const Dataset ds = numbered(101);
  for (const double fraction : {0.0, 0.004, 0.1, 0.5, 0.99}) {
    CAPTURE(fraction);
    const HoldoutSplit s = split_holdout(ds, fraction, 7);
    const auto k = static_cast<std::size_t>(fraction * 101 + 0.5);
    CHECK(s.holdout.rows == k);
    CHECK(s.train.rows == 101 - k);
    for (const Dataset* part : {&s.train, &s.holdout}) {
      CHECK(part->classes == 5);
      CHECK(part->cols == 2);
      CHECK(part->sample_shape == std::vector<std::size_t>{2});
      CHECK(part->features.size() == part->rows * 2);
      CHECK(part->labels.size() == part->rows);
    }
    std::vector<int> seen(101, 0);
    std::vector<std::size_t> prev;
    for (const Dataset* part : {&s.train, &s.holdout}) {
      const auto rows = ids(*part);
      CHECK(std::is_sorted(rows.begin(), rows.end()));  // original order kept
      for (const std::size_t i : rows) ++seen[i];
    }
    CHECK(std::count(seen.begin(), seen.end(), 1) == 101);
  }
  CHECK(split_holdout(ds, 0.0, 7).holdout.rows == 0);
  CHECK(split_holdout(ds, 0.0, 7).train.features == ds.features);
}

TEST_CASE("holdout: deterministic in the seed, and the same draws on every platform") {
  const Dataset ds = numbered(20);
  CHECK(ids(split_holdout(ds, 0.25, 42).holdout) == ids(split_holdout(ds, 0.25, 42).holdout));
  CHECK(ids(split_holdout(ds, 0.25, 42).holdout) != ids(split_holdout(ds, 0.25, 43).holdout));
  // Golden values: data/rng.h is bit-identical across platforms, so these are
  // the rows everywhere (x86, aarch64, any standard library).
  CHECK(ids(split_holdout(ds, 0.25, 42).holdout) == std::vector<std::size_t>{4, 5, 7, 17, 18});
}

TEST_CASE("holdout: errors") {
  const Dataset ds = numbered(4);
  CHECK(contains(data_error_of([&] { split_holdout(ds, 0.9, 1); }),
                 "a hold-out fraction of 0.900000 of 4 samples leaves none to train on — use a smaller fraction"));
  CHECK(contains(data_error_of([&] { split_holdout(ds, 1.0, 1); }), "is not in [0, 1)"));
  CHECK(contains(data_error_of([&] { split_holdout(ds, -0.1, 1); }), "hold-out fraction -0.100000 is not in [0, 1)"));
  CHECK(contains(data_error_of([&] { split_holdout(ds, std::numeric_limits<double>::quiet_NaN(), 1); }), "is not in [0, 1)"));
  CHECK(contains(data_error_of([&] { split_holdout(Dataset{}, 0.0, 1); }), "hold-out of an empty dataset"));
  CHECK(split_holdout(ds, 0.8, 1).holdout.rows == 3);  // 3.2 rounds to 3: one left to train on
}
