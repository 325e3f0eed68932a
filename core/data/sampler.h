// Minibatches drawn as epochs of a shuffled shard, without replacement, as
// PyTorch's DataLoader(shuffle=True) does.
//
// The sequence of samples a client sees is a pure function of (shard size,
// seed): epoch e is a Fisher-Yates permutation of the shard drawn from
// Rng(mix_seed(seed, e, 0xe90c)), and the epochs are concatenated. Minibatch
// number k (k = round * local_steps + step) is positions [k*B, (k+1)*B) of
// that sequence, so it does not depend on which rounds the client took part
// in, and a restarted client draws the same batches. A batch may straddle two
// epochs. Indices returned are positions in the shard (0 .. shard_size-1).
//
// Not thread-safe (caches the permutations of the epochs last used).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/data/rng.h"

namespace signfed::data {

// The sampler seed of client `client_index` under --data-seed (one definition
// for the edge client and the plan exporter).
inline std::uint64_t client_batch_seed(std::uint64_t data_seed, std::uint32_t client_index);

class EpochSampler {
 public:
  EpochSampler(std::size_t shard_size, std::uint64_t seed);

  // Writes the shard positions of minibatch `batch_number` of size out.size().
  void batch(std::uint64_t batch_number, std::span<std::uint32_t> out);

  std::size_t shard_size() const { return n_; }

 private:
  const std::vector<std::uint32_t>& permutation(std::uint64_t epoch);

  std::size_t n_;
  std::uint64_t seed_;
  std::uint64_t cached_epoch_[2] = {~0ULL, ~0ULL};
  std::vector<std::uint32_t> cached_[2];
};

inline std::uint64_t client_batch_seed(std::uint64_t data_seed, std::uint32_t client_index) {
  return mix_seed(data_seed, client_index, 0xba7c);
}

}  // namespace signfed::data
