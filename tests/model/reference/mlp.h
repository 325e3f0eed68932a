// Test reference (tests/model/reference): the hand-written model the preset
// ran on before LayeredModel; make_model no longer builds it.
// Multi-layer perceptron: fully connected layers, ReLU on every hidden layer,
// softmax cross-entropy on the output.
//
// Spec: "mlp:A-B-...-Z" (A = input size, Z = classes, at least two sizes);
// "mlp" means "mlp:784-128-10" (101,770 parameters).
//
// Flat parameter layout (wire contract), for each layer l = 0..L-1 in order,
// with in = sizes[l], out = sizes[l+1]:
//   W_l : out*in floats, row-major [out x in]  (W_l[o][i] at o*in + i)
//   b_l : out floats
// so layer l starts at sum_{k<l} (sizes[k]*sizes[k+1] + sizes[k+1]).
//
// Initialisation from a 64-bit seed: one splitmix64 stream seeded with `seed`
// fills the weights in flat-layout order with U(-r, r) (see init.h), r =
// sqrt(6/in) (He-uniform) for hidden layers and sqrt(6/(in+out))
// (Glorot-uniform) for the output layer; biases are 0 (Init::he). Init::torch:
// each layer's W then b from the same stream, U(-1/sqrt(in), 1/sqrt(in)), as
// torch.nn.Linear. Bit-identical on every IEEE-754 platform.
//
// Thread-safety and scratch: as Model and FlatModel. Scratch is sum(sizes[1..])
// + 2*max(sizes[1..]) floats per sample of the largest batch seen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/flat_model.h"

namespace signfed::model {

class Mlp final : public FlatModel {
 public:
  static constexpr std::size_t kMaxLayerSize = std::size_t{1} << 24;

  // sizes = {input, hidden..., classes}. Throws std::invalid_argument unless
  // there are >= 2 sizes, each in [1, kMaxLayerSize], and classes in [2, 256]
  // (labels are uint8).
  Mlp(std::vector<std::size_t> sizes, std::uint64_t seed, Init init = Init::he);

  // Parses "mlp" / "mlp:A-B-..-Z"; throws std::invalid_argument on anything else.
  static std::vector<std::size_t> parse_spec(std::string_view spec);

  std::string spec() const override;
  std::size_t input_size() const override { return sizes_.front(); }
  std::size_t num_classes() const override { return sizes_.back(); }
  const ModelSpec& architecture() const override { return arch_; }

  const std::vector<std::size_t>& layer_sizes() const noexcept { return sizes_; }
  // The scratch buffers' total size in floats; for tests of the no-allocation contract.
  std::size_t scratch_floats() const noexcept { return acts_.capacity() + delta_.capacity(); }

 private:
  void allocate_scratch(std::size_t batch) override;
  // Runs the layers on x (input x batch); the logits end up in act(layers - 1).
  void forward(const float* x, std::size_t batch) override;
  double backward(const float* x, const std::uint8_t* y, std::size_t batch, float* grad) override;
  const float* logits(const float* x, std::size_t b) override;
  float* act(std::size_t layer) { return acts_.data() + act_offset_[layer] * capacity_; }

  std::vector<std::size_t> sizes_;
  std::vector<std::size_t> param_offset_;  // start of W_l; b_l follows W_l
  std::vector<std::size_t> act_offset_;    // per-sample start of layer l's output in acts_
  std::vector<float> acts_;                // outputs of every layer (post-ReLU for hidden)
  std::vector<float> delta_;               // two ping-pong gradient buffers of max width
  ModelSpec arch_;
};

}  // namespace signfed::model
