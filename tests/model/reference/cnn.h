// Test reference (tests/model/reference): the hand-written model the preset
// ran on before LayeredModel; make_model no longer builds it.
// LeNet-5 style convolutional network for 28x28x1 inputs and 10 classes.
//
// Spec: "cnn" = "cnn:lenet5". Architecture (stride 1 convolutions):
//   conv1 5x5, 1->6, pad 2 -> ReLU -> maxpool 2x2   (28x28x6 -> 14x14x6)
//   conv2 5x5, 6->16, pad 0 -> ReLU -> maxpool 2x2  (10x10x16 -> 5x5x16)
//   fc1 400->120 -> ReLU -> fc2 120->84 -> ReLU -> fc3 84->10 -> softmax
// Parameters: conv 6*25+6 + 16*150+16, fc 400*120+120 + 120*84+84 + 84*10+10
// = 156 + 2416 + 48120 + 10164 + 850 = 61,706.
//
// Input: row-major 28x28 pixels per sample (= HWC with C = 1).
// Feature maps are stored HWC (channel innermost) per sample.
//
// Flat parameter layout (wire contract), in this order:
//   conv1.W [6 x 25]    row-major; column index (ky*5 + kx)*1 + ci
//   conv1.b [6]
//   conv2.W [16 x 150]  row-major; column index (ky*5 + kx)*6 + ci
//   conv2.b [16]
//   fc1.W [120 x 400]   row-major; input index (y*5 + x)*16 + c of pool2 (HWC)
//   fc1.b [120]
//   fc2.W [84 x 120], fc2.b [84], fc3.W [10 x 84], fc3.b [10]  (row-major [out x in])
// Note the HWC order of conv2.W columns and fc1.W inputs differs from
// PyTorch's CHW order; convert when importing/exporting torch weights.
//
// Initialisation: as Mlp (one splitmix64 stream from the seed fills every
// weight tensor in layout order; He-uniform with fan_in = 25*C_in for convs
// and `in` for fc1/fc2, Glorot-uniform for fc3; biases 0). Init::torch: each
// tensor, biases included, U(+-1/sqrt(fan_in)) in layout order, as PyTorch's
// nn.Conv2d / nn.Linear defaults.
//
// Thread-safety and scratch: as Model and FlatModel. Scratch is about 44,500
// floats + 1,576 bytes per sample of the largest batch seen (im2col buffers
// dominate).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/model/flat_model.h"

namespace signfed::model {

class Cnn final : public FlatModel {
 public:
  static constexpr std::size_t kNumParams = 61706;

  explicit Cnn(std::uint64_t seed, Init init = Init::he);

  std::string spec() const override { return "cnn:lenet5"; }
  std::size_t input_size() const override { return 28 * 28; }
  std::size_t num_classes() const override { return 10; }
  const ModelSpec& architecture() const override { return arch_; }

  // Flat offsets of each tensor, in layout order (W then b per layer; 10 entries
  // plus the total), e.g. for tests that probe every layer.
  static std::array<std::size_t, 11> tensor_offsets();

  std::size_t scratch_floats() const noexcept { return buf_.capacity() + pool_arg_.capacity(); }

 private:
  // Scratch buffers: im2col columns, conv outputs (Y), pool outputs (P), fc
  // activations (A) and their gradients (D*).
  enum Buf : std::size_t { kCols1, kY1, kP1, kCols2, kY2, kP2, kA3, kA4, kLogits,
                           kDLogits, kDA4, kDA3, kDP2, kDP1, kNumBufs };
  void allocate_scratch(std::size_t batch) override;
  void forward(const float* x, std::size_t batch) override;
  double backward(const float* x, const std::uint8_t* y, std::size_t batch, float* grad) override;
  const float* logits(const float* x, std::size_t b) override;
  float* buf(Buf b) { return buf_.data() + buf_offset_[b] * capacity_; }

  std::array<std::size_t, kNumBufs + 1> buf_offset_{};  // per-sample floats before each buffer
  std::vector<float> buf_;                                // every activation/gradient buffer
  std::vector<std::uint8_t> pool_arg_;                    // argmax (0..3) of each pool window, pool1 then pool2
  ModelSpec arch_ = preset_spec("cnn");
};

}  // namespace signfed::model
