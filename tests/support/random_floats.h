// Random test vectors from signfed's own RNG (data::Rng): the same values on
// every platform and standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/data/rng.h"

namespace signfed::test {

// n floats, each draw(r) of one data::Rng r seeded with seed.
template <class Draw>
std::vector<float> random_floats(std::size_t n, std::uint64_t seed, Draw draw) {
  data::Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(draw(r));
  return v;
}

// Uniform in [-1, 1).
inline std::vector<float> uniform_floats(std::size_t n, std::uint64_t seed) {
  return random_floats(n, seed, [](data::Rng& r) { return r.uniform() * 2.0 - 1.0; });
}

// Standard normal.
inline std::vector<float> normal_floats(std::size_t n, std::uint64_t seed) {
  return random_floats(n, seed, [](data::Rng& r) { return r.normal(); });
}

}  // namespace signfed::test
