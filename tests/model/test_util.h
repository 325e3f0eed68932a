// Helpers shared by the model tests.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/model/init.h"
#include "core/model/model.h"

namespace signfed::model::test {

// Operator-new calls made so far by this process (alloc_counter.cc replaces
// the global operator new). Eigen allocates with malloc, so this counts the
// standard-library allocations a model could make (vectors, strings).
std::size_t allocation_count();

inline std::vector<float> uniform_floats(std::size_t n, std::uint64_t seed, float lo = 0.0f, float hi = 1.0f) {
  detail::SplitMix64 rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = lo + (hi - lo) * rng.uniform01();
  return v;
}

inline std::vector<std::uint8_t> random_labels(std::size_t n, std::size_t classes, std::uint64_t seed) {
  detail::SplitMix64 rng(seed);
  std::vector<std::uint8_t> y(n);
  for (auto& l : y) l = static_cast<std::uint8_t>(rng.next() % classes);
  return y;
}

inline double loss_at(Model& m, std::span<const float> x, std::span<const std::uint8_t> y, std::size_t batch) {
  std::vector<float> g(m.num_params());
  return m.loss_and_grad(x, y, batch, g);
}

// Central difference of the loss w.r.t. params()[i], with step eps.
inline double numeric_grad(Model& m, std::size_t i, float eps, std::span<const float> x,
                           std::span<const std::uint8_t> y, std::size_t batch) {
  float& p = m.params()[i];
  const float saved = p;
  p = saved + eps;
  const float up = p;
  const double lp = loss_at(m, x, y, batch);
  p = saved - eps;
  const float down = p;
  const double lm = loss_at(m, x, y, batch);
  p = saved;
  return (lp - lm) / (static_cast<double>(up) - static_cast<double>(down));
}

// FNV-1a over the parameter bytes: pins the init algorithm across platforms.
inline std::uint64_t fnv1a(std::span<const float> v) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size_bytes(); ++i) {
    h ^= b[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Plain SGD: p -= lr * g.
inline void sgd_step(Model& m, std::span<const float> g, float lr) {
  auto p = m.params();
  for (std::size_t i = 0; i < p.size(); ++i) p[i] -= lr * g[i];
}

}  // namespace signfed::model::test
