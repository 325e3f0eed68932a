// Internal: deterministic parameter initialisation shared by the models.
//
// Bit-identical on every IEEE-754 platform: the generator is pure 64-bit
// integer arithmetic, each uniform float carries exactly 24 random bits (so
// 2u-1 is exact), and the only rounding step is one float multiply by a limit
// computed with correctly rounded double division and sqrt. No <random>
// distributions: their algorithms differ between standard libraries.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace signfed::model::detail {

// splitmix64 (Steele, Lea & Flood 2014): full-period, fine for weight init.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, 1) on the grid k * 2^-24.
  float uniform01() noexcept { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

  // The whole state: SplitMix64(state()) continues this stream exactly.
  std::uint64_t state() const noexcept { return state_; }

 private:
  std::uint64_t state_;
};

// sqrt(6 / fan): He-uniform limit with fan = fan_in (layers followed by ReLU),
// Glorot-uniform limit with fan = fan_in + fan_out (the output layer).
inline float uniform_limit(std::size_t fan) noexcept {
  return static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan)));
}

// 1/sqrt(fan_in): PyTorch's default bound for nn.Linear and nn.Conv2d weights
// (kaiming_uniform_ with a = sqrt(5)) and biases.
inline float torch_limit(std::size_t fan_in) noexcept {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
}

// w[i] = limit * (2u - 1), u ~ uniform01(), drawn in index order.
inline void fill_uniform_symmetric(std::span<float> w, float limit, SplitMix64& rng) noexcept {
  for (float& v : w) v = limit * (2.0f * rng.uniform01() - 1.0f);
}

}  // namespace signfed::model::detail
