// Shared helpers for the kernel tests: fixed-seed data, guarded buffers, and
// the size lists every family is checked over.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "core/kernels/sign_kernels.h"

namespace signfed::kernels::testing {

inline constexpr std::uint64_t kSeed = 20240611;

// Every size 0..1100 (covers 0..4x the widest vector for every kernel: 4 x 256
// coordinates per AVX2 vote word, 4 x 64 floats per pack step), then a few
// large odd sizes.
inline std::vector<std::size_t> dense_sizes() {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 1100; ++n) sizes.push_back(n);
  return sizes;
}
inline const std::size_t kLargeSizes[] = {65536 + 13, 100003};

// A buffer with `size` usable elements followed by guard elements holding a
// sentinel: check() fails if anything wrote past the usable span.
template <class T>
class Guarded {
 public:
  Guarded(std::size_t size, T fill, T sentinel) : size_(size), sentinel_(sentinel), data_(size + kGuard, sentinel) {
    for (std::size_t i = 0; i < size; ++i) data_[i] = fill;
  }
  std::span<T> span() { return {data_.data(), size_}; }
  std::span<const T> view() const { return {data_.data(), size_}; }
  bool guard_intact() const {
    for (std::size_t i = size_; i < data_.size(); ++i)
      if (std::bit_cast<Bits>(data_[i]) != std::bit_cast<Bits>(sentinel_)) return false;
    return true;
  }

 private:
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint8_t>;
  static constexpr std::size_t kGuard = 64;
  std::size_t size_;
  T sentinel_;
  std::vector<T> data_;
};

// Floats with every sign-relevant special mixed in: +-0, denormals, +-inf,
// NaNs of both signs, and ordinary values of both signs.
inline std::vector<float> special_floats(std::size_t n, std::mt19937_64& rng) {
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            -std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::min() / 3.0f,
                            -std::numeric_limits<float>::min() / 3.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::max(),
                            -std::numeric_limits<float>::max()};
  std::uniform_int_distribution<int> pick(0, 2 * static_cast<int>(std::size(specials)) - 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) {
    const int p = pick(rng);
    v = p < static_cast<int>(std::size(specials)) ? specials[p] : normal(rng);
  }
  return x;
}

}  // namespace signfed::kernels::testing
