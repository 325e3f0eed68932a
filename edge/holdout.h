// A client's hold-out for federated evaluation (signfed-edge --holdout F):
// a seeded share of its own shard, set aside before training and never
// trained on, scored with the coordinator's model on the rounds whose
// VoteResult asks for it (VoteResult.evaluate -> EvalReport).
//
// Memory: with a hold-out the shard's rows are copied out of the (possibly
// shared) dataset, once, at start-up; without one nothing changes (the
// training sequence stays bit-identical to a run without --holdout).
// Not thread-safe; one per client.
#pragma once

#include <cstdint>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/standardise.h"
#include "core/model/model.h"
#include "edge/local_trainer.h"

namespace signfed::edge {

struct LocalHoldout {
  Shard train;            // what the trainer sees
  data::Dataset holdout;  // rows 0 when fraction is 0
};

// Splits `shard` with data::split_holdout(fraction, seed) (core/data/holdout.h).
// fraction 0: the shard unchanged and an empty hold-out. Throws data::DataError
// (fraction outside [0, 1), nothing left to train on).
LocalHoldout hold_out(Shard shard, double fraction, std::uint64_t seed);

// The numbers of an EvalReport: loss_sum = mean loss * samples, correct =
// round(accuracy * samples).
struct HoldoutScore {
  double loss_sum = 0.0;
  std::uint64_t correct = 0;
  std::uint64_t samples = 0;
};

// Scores `holdout` (standardised with `inputs`, the run's transform, into
// `scratch`) with `model`'s current parameters. Empty hold-out: all zero.
HoldoutScore score_holdout(model::Model& model, const data::Dataset& holdout, const data::Standardisation& inputs,
                           std::vector<float>& scratch);

}  // namespace signfed::edge
