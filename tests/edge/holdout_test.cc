// edge/holdout.h: the hold-out comes only from the client's own shard, is
// disjoint from what it trains on and seeded; its score is the EvalReport's.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "edge/holdout.h"
#include "tests/edge/edge_test_util.h"

using namespace signfed;
using namespace signfed::edge;

namespace {

// A row's identity: its features (synthetic rows are distinct with probability ~1).
std::vector<float> row(const data::Dataset& d, std::size_t r) {
  return {d.features.begin() + static_cast<std::ptrdiff_t>(r * d.cols),
          d.features.begin() + static_cast<std::ptrdiff_t>((r + 1) * d.cols)};
}

}  // namespace

TEST_CASE("hold_out: a seeded share of the client's own shard, disjoint from the training rows") {
  const auto all = test::synthetic(200, 16, 4);
  const Shard shard = load_shard(all, "", "iid", 1, 2, 5);  // 100 of the 200 rows
  REQUIRE(shard.rows.size() == 100);
  const LocalHoldout h = hold_out(shard, 0.2, 42);
  CHECK(h.holdout.rows == 20);
  CHECK(h.train.rows.size() == 80);
  CHECK(h.holdout.classes == all->classes);
  std::set<std::vector<float>> mine, train, held;
  for (std::uint32_t r : shard.rows) mine.insert(row(*all, r));
  for (std::uint32_t r : h.train.rows) train.insert(row(*h.train.data, r));
  for (std::size_t r = 0; r < h.holdout.rows; ++r) held.insert(row(h.holdout, r));
  CHECK(train.size() == 80);
  CHECK(held.size() == 20);
  for (const auto& x : held) {
    CHECK(mine.count(x) == 1);   // from this client's shard
    CHECK(train.count(x) == 0);  // never trained on
  }
  for (const auto& x : train) CHECK(mine.count(x) == 1);
  // Seeded: the same seed gives the same hold-out, another seed another.
  CHECK(hold_out(shard, 0.2, 42).holdout.features == h.holdout.features);
  CHECK(hold_out(shard, 0.2, 43).holdout.features != h.holdout.features);
  // 0: the shard unchanged (the same rows of the same shared data).
  const LocalHoldout none = hold_out(shard, 0.0, 42);
  CHECK(none.holdout.rows == 0);
  CHECK(none.train.data == all);
  CHECK(none.train.rows == shard.rows);
}

TEST_CASE("score_holdout: loss_sum = mean loss x samples, correct = accuracy x samples, on standardised inputs") {
  const auto all = test::synthetic(200, 16, 4);
  const LocalHoldout h = hold_out(load_shard(all, "", "iid", 0, 1, 5), 0.25, 1);
  auto m = model::make_model(test::kSpec, 3);
  const data::Standardisation inputs{true, 0.5f, 0.25f};
  std::vector<float> scratch;
  const HoldoutScore s = score_holdout(*m, h.holdout, inputs, scratch);
  std::vector<float> x(h.holdout.features.size());
  inputs.apply(h.holdout.features, x);
  const model::EvalResult e = m->evaluate(x, h.holdout.labels, h.holdout.rows);
  CHECK(s.samples == 50);
  CHECK(s.loss_sum == doctest::Approx(e.loss * 50).epsilon(1e-12));
  CHECK(s.correct == static_cast<std::uint64_t>(std::llround(e.accuracy * 50)));
  CHECK(score_holdout(*m, data::Dataset{}, inputs, scratch).samples == 0);
}
