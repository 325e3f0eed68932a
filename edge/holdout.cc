#include "edge/holdout.h"

#include <cmath>
#include <memory>
#include <span>
#include <utility>

#include "core/data/holdout.h"

namespace signfed::edge {

LocalHoldout hold_out(Shard shard, double fraction, std::uint64_t seed) {
  LocalHoldout out;
  if (fraction == 0.0) {
    out.train = std::move(shard);
    return out;
  }
  // The shard's own rows as a dataset: the hold-out is drawn from them alone.
  const data::Dataset& src = *shard.data;
  data::Dataset mine;
  mine.rows = shard.rows.size();
  mine.cols = src.cols;
  mine.classes = src.classes;
  mine.sample_shape = src.sample_shape;
  mine.features.reserve(mine.rows * mine.cols);
  mine.labels.reserve(mine.rows);
  for (std::uint32_t r : shard.rows) {
    const auto row = std::span(src.features).subspan(static_cast<std::size_t>(r) * src.cols, src.cols);
    mine.features.insert(mine.features.end(), row.begin(), row.end());
    mine.labels.push_back(src.labels[r]);
  }
  data::HoldoutSplit split = data::split_holdout(mine, fraction, seed);
  out.holdout = std::move(split.holdout);
  out.train.rows.resize(split.train.rows);
  for (std::uint32_t i = 0; i < out.train.rows.size(); ++i) out.train.rows[i] = i;
  out.train.data = std::make_shared<const data::Dataset>(std::move(split.train));
  return out;
}

HoldoutScore score_holdout(model::Model& model, const data::Dataset& holdout, const data::Standardisation& inputs,
                           std::vector<float>& scratch) {
  HoldoutScore s;
  if (holdout.rows == 0) return s;
  scratch.resize(holdout.features.size());
  inputs.apply(holdout.features, scratch);
  const model::EvalResult e = model.evaluate(scratch, holdout.labels, holdout.rows);
  const double n = static_cast<double>(holdout.rows);
  s.samples = holdout.rows;
  s.loss_sum = e.loss * n;
  s.correct = static_cast<std::uint64_t>(std::llround(e.accuracy * n));
  return s;
}

}  // namespace signfed::edge
