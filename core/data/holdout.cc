#include "core/data/holdout.h"

#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "core/data/rng.h"

namespace signfed::data {
namespace {

// Tags this use of the seed, so a hold-out is not correlated with the
// partition or sampler streams drawn from the same --data-seed.
constexpr std::uint64_t kHoldoutStream = 0x401d;

Dataset rows_of(const Dataset& ds, const std::vector<std::uint32_t>& rows) { return select_rows(ds, rows); }
}  // namespace

HoldoutSplit split_holdout(const Dataset& ds, double fraction, std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw DataError("hold-out fraction " + std::to_string(fraction) + " is not in [0, 1) — e.g. 0.2 keeps 20% back");
  }
  if (ds.rows > UINT32_MAX) throw DataError("hold-out supports at most 2^32-1 samples");
  const auto k = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(ds.rows) + 0.5));
  if (ds.rows == 0) throw DataError("hold-out of an empty dataset: no samples to split");
  if (k >= ds.rows) {
    throw DataError("a hold-out fraction of " + std::to_string(fraction) + " of " + std::to_string(ds.rows) +
                    " samples leaves none to train on — use a smaller fraction");
  }
  std::vector<std::uint32_t> perm(ds.rows);
  std::iota(perm.begin(), perm.end(), 0U);
  Rng rng(mix_seed(seed, kHoldoutStream));
  for (std::size_t i = 0; i < k; ++i) {  // partial Fisher-Yates: perm[0..k) is a uniform k-subset
    const std::size_t j = i + static_cast<std::size_t>(rng.below(ds.rows - i));
    std::swap(perm[i], perm[j]);
  }
  std::vector<bool> held(ds.rows, false);
  for (std::size_t i = 0; i < k; ++i) held[perm[i]] = true;
  std::vector<std::uint32_t> train;
  std::vector<std::uint32_t> holdout;
  train.reserve(ds.rows - k);
  holdout.reserve(k);
  for (std::uint32_t r = 0; r < ds.rows; ++r) (held[r] ? holdout : train).push_back(r);
  return {rows_of(ds, train), rows_of(ds, holdout)};
}

}  // namespace signfed::data
