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
  const data::Dataset mine = data::select_rows(src, shard.rows);  // in src's storage form
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
  scratch.resize(holdout.rows * holdout.cols);  // the same size every round: no allocation after the first
  for (std::size_t r = 0; r < holdout.rows; ++r) {
    const std::span<float> row = std::span(scratch).subspan(r * holdout.cols, holdout.cols);
    holdout.row(r, row);
    inputs.apply(row, row);  // in place: apply() allows in == out
  }
  const model::EvalResult e = model.evaluate(scratch, holdout.labels, holdout.rows);
  const double n = static_cast<double>(holdout.rows);
  s.samples = holdout.rows;
  s.loss_sum = e.loss * n;
  s.correct = static_cast<std::uint64_t>(std::llround(e.accuracy * n));
  return s;
}

}  // namespace signfed::edge
