// Hold-out split of a board's local data: a train part and a held-out part
// (for local evaluation), each sample in exactly one of them.
//
// Deterministic in (dataset size, fraction, seed) and bit-identical on every
// platform: the held-out rows are the first k of a Fisher-Yates permutation
// drawn from data/rng.h (Rng(mix_seed(seed, kHoldoutStream))), k =
// floor(fraction * rows + 0.5). Not stratified: with few samples a class may
// be missing from the hold-out. Both parts keep the rows in their original
// order, the dataset's class count (so models agree on the output size) and
// its sample_shape. Thread-safe (pure function).
#pragma once

#include <cstdint>

#include "core/data/dataset.h"

namespace signfed::data {

struct HoldoutSplit {
  Dataset train;
  Dataset holdout;
};

// fraction in [0, 1): 0 gives an empty hold-out (train is a copy). Throws
// DataError when fraction is outside [0, 1) or not a number, when the dataset
// is empty, or when the hold-out would take every sample (train empty).
HoldoutSplit split_holdout(const Dataset& ds, double fraction, std::uint64_t seed);

}  // namespace signfed::data
