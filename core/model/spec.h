// A model's architecture as data: what a model file (JSON) describes, what
// Welcome carries to the boards, what the digest and the exporters read.
//
// Shapes are per sample and channels-last, as the flat input rows are stored:
//   [F]        a feature vector (tabular data, the MLP's 784 pixels)
//   [L, C]     a 1-d signal: L steps of C channels (sample s, step t, channel c
//              at (t*C + c))
//   [H, W, C]  an image, HWC (pixel (y, x), channel c at ((y*W + x)*C + c))
// A sample's input is input_size() = prod(input) contiguous floats.
//
// Layers, in order, each with the parameters it owns (flat layout, appended to
// the model's one parameter vector in layer order; wire contract):
//   dense    {units}                        input must be [F] (flatten first)
//            W [units x F] row-major, then b [units]
//   conv1d   {filters, kernel, stride=1, padding=0}  input [L, C] -> [Lo, filters]
//            W [filters x (kernel*C)] row-major, window index (k*C + c); then b [filters]
//   conv2d   {filters, kernel, stride=1, padding=0}  input [H, W, C] -> [Ho, Wo, filters]
//            W [filters x (kernel*kernel*C)] row-major, window index ((ky*kernel + kx)*C + c); then b
//            Lo = (L + 2*padding - kernel) / stride + 1 (floor); zero padding.
//   max_pool1d, avg_pool1d {size, stride=size}  [L, C] -> [(L - size)/stride + 1, C]
//   max_pool2d, avg_pool2d {size, stride=size}  [H, W, C] -> [(H-size)/stride+1, (W-size)/stride+1, C]
//            no padding; max takes the first maximum in window order.
//   global_avg_pool                         [L, C] or [H, W, C] -> [C]
//   flatten                                 any -> [prod]
//   relu, tanh, sigmoid                     elementwise, shape kept
//   dropout  {rate in [0, 1)}               inverted dropout (kept units scaled by
//            1/(1-rate)) while training only; the identity in evaluation.
// The last layer's output must be [K]: K logits.
//
// Losses (labels are class indices, uint8):
//   softmax_cross_entropy  K >= 2 classes; accuracy = argmax == label
//   binary_cross_entropy   K == 1 logit z, label in {0, 1}, p = sigmoid(z);
//                          2 classes; accuracy = (z > 0) == label
//   mean_squared_error     K outputs against one-hot(label) (K >= 2, K classes),
//                          or against the label's value when K == 1 (a
//                          regression target in 0..255); mean over outputs
//                          and samples; accuracy = argmax == label (K >= 2),
//                          round(output) == label (K == 1)
//
// Initialisation (from the run's seed; one splitmix64 stream, layer order, W
// then b; see init.h): Init::he draws W ~ U(+-sqrt(6/fan_in)) for a layer
// whose output next passes through relu (skipping pools, flatten, dropout),
// else Glorot U(+-sqrt(6/(fan_in+fan_out))), biases 0; Init::torch draws W
// and b ~ U(+-1/sqrt(fan_in)). fan_in = kernel*kernel*C (conv2d), kernel*C
// (conv1d), F (dense); fan_out = filters*kernel*kernel, filters*kernel, units.
//
// Thread-safety: ModelSpec is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace signfed::model {

enum class LayerKind {
  dense,
  conv1d,
  conv2d,
  max_pool1d,
  max_pool2d,
  avg_pool1d,
  avg_pool2d,
  global_avg_pool,
  flatten,
  relu,
  tanh,
  sigmoid,
  dropout,
};

struct LayerSpec {
  LayerKind kind = LayerKind::relu;
  std::size_t units = 0;    // dense
  std::size_t filters = 0;  // conv
  std::size_t kernel = 0;   // conv: square kernel side (conv2d) or length (conv1d)
  std::size_t stride = 1;   // conv; pools: defaults to size (0 in a file = default)
  std::size_t padding = 0;  // conv: zeros on every side
  std::size_t size = 0;     // pools: window side
  double rate = 0.0;        // dropout
};

enum class Loss { softmax_cross_entropy, binary_cross_entropy, mean_squared_error };

struct ModelSpec {
  std::vector<std::size_t> input;  // [F], [L, C] or [H, W, C]
  std::vector<LayerSpec> layers;
  Loss loss = Loss::softmax_cross_entropy;
};

// Text names used in model files ("dense", "max_pool2d", "softmax_cross_entropy", ...).
const char* layer_kind_name(LayerKind k);
const char* loss_name(Loss l);

}  // namespace signfed::model
