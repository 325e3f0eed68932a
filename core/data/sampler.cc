#include "core/data/sampler.h"

#include <numeric>
#include <stdexcept>

#include "core/data/rng.h"

namespace signfed::data {

EpochSampler::EpochSampler(std::size_t shard_size, std::uint64_t seed) : n_(shard_size), seed_(seed) {
  if (n_ == 0) throw std::invalid_argument("EpochSampler: empty shard");
}

const std::vector<std::uint32_t>& EpochSampler::permutation(std::uint64_t epoch) {
  const int slot = static_cast<int>(epoch & 1);
  if (cached_epoch_[slot] == epoch) return cached_[slot];
  std::vector<std::uint32_t>& p = cached_[slot];
  p.resize(n_);
  std::iota(p.begin(), p.end(), 0u);
  Rng rng(mix_seed(seed_, epoch, 0xe90c));
  // Fisher-Yates, from the last position down.
  for (std::size_t i = n_ - 1; i > 0; --i) std::swap(p[i], p[rng.below(i + 1)]);
  cached_epoch_[slot] = epoch;
  return p;
}

void EpochSampler::batch(std::uint64_t batch_number, std::span<std::uint32_t> out) {
  std::uint64_t pos = batch_number * out.size();
  for (std::uint32_t& o : out) {
    o = permutation(pos / n_)[pos % n_];
    ++pos;
  }
}

}  // namespace signfed::data
