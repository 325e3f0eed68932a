// Helpers shared by the edge tests: a small synthetic dataset.
#pragma once

#include <cstdint>
#include <memory>

#include "core/data/dataset.h"
#include "core/data/rng.h"

namespace signfed::edge::test {

// rows samples of `cols` uniform features in [0,1) and labels in [0, classes).
inline std::shared_ptr<const data::Dataset> synthetic(std::size_t rows, std::size_t cols, std::size_t classes,
                                                      std::uint64_t seed = 7) {
  auto d = std::make_shared<data::Dataset>();
  d->rows = rows;
  d->cols = cols;
  d->classes = classes;
  data::Rng rng(seed);
  d->features.resize(rows * cols);
  for (float& f : d->features) f = static_cast<float>(rng.below(1u << 20)) / static_cast<float>(1u << 20);
  d->labels.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) d->labels[i] = static_cast<std::uint8_t>(i % classes);
  return d;
}

inline constexpr const char* kSpec = "mlp:16-8-4";  // 16 inputs, 4 classes: 172 parameters

}  // namespace signfed::edge::test
