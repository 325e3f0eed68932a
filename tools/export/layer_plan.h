// A ModelSpec walked once: every layer's per-sample input and output shape
// (channels-last, as spec.h), its name, and where its parameters sit in the
// flat parameter vector. What the ONNX and npz writers share.
//
// Names: a layer with parameters is "<kind>_<i>", i counting layers of that
// kind from 0 ("dense_0", "conv2d_1"); its tensors are "<name>.weight" and
// "<name>.bias". Weight shapes in signfed's layout (row-major, spec.h):
//   dense   [units, F]
//   conv1d  [filters, kernel, C]              (window index k*C + c)
//   conv2d  [filters, kernel, kernel, C]      (window index (ky*kernel + kx)*C + c)
// Pools: a stride of 0 means the window size (spec.h's default).
//
// Thread-safety: plain values; make_plan is a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/model/spec.h"

namespace signfed::exporter {

struct ParamTensor {
  std::string name;                // "dense_0.weight"
  std::vector<std::size_t> shape;  // signfed's layout
  std::size_t offset = 0;          // into the flat parameters, in floats
  std::size_t size() const;        // prod(shape)
};

struct LayerStep {
  model::LayerSpec spec;               // pools: stride resolved (never 0)
  std::string name;                    // "dense_0"; for layers without parameters "relu_2" etc.
  std::vector<std::size_t> in, out;    // per-sample shapes, channels-last
  std::vector<ParamTensor> params;     // weight then bias; empty for layers without parameters
};

struct LayerPlan {
  std::vector<std::size_t> input;  // per-sample input shape
  std::vector<LayerStep> steps;
  std::size_t num_params = 0;      // floats the model's parameter vector holds
  std::size_t input_size() const;  // prod(input)
  std::size_t outputs() const;     // K, the last layer's output size
};

// Throws std::invalid_argument naming the layer (index and kind) when a
// shape does not fit (dense on a non-flat input, a kernel larger than its
// padded input, ...) or the last output is not [K].
LayerPlan make_plan(const model::ModelSpec& spec);


}  // namespace signfed::exporter
