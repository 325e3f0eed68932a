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
// Limits (checked by layer_shapes, so by every parser): every dimension and
// layer size in [1, 2^24]; at most 2^31 parameters; outputs K <= 256.
//
// Files: parse_model_json reads the JSON form (docs/model-format.md),
// canonical_json writes it back (compact, fixed key order, defaults filled
// in; parse_model_json(canonical_json(s)) == s for every valid s). Presets
// ("mlp", "mlp:A-B-..-Z", "cnn", "cnn:lenet5") are specs built in code by
// preset_spec; docs/models/*.json hold the same architectures as files.
//
// Errors: every function that validates throws std::invalid_argument whose
// message names the place, e.g. "layers[3] (conv2d): kernel 7 exceeds the
// padded input 6x6".
//
// Thread-safety: ModelSpec is a plain value; the functions are pure.
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
  std::size_t stride = 1;   // conv; pools: set it in code (in a file, absent or 0 means size)
  std::size_t padding = 0;  // conv: zeros on every side
  std::size_t size = 0;     // pools: window side
  double rate = 0.0;        // dropout

  bool operator==(const LayerSpec&) const = default;
};

enum class Loss { softmax_cross_entropy, binary_cross_entropy, mean_squared_error };

struct ModelSpec {
  std::vector<std::size_t> input;  // [F], [L, C] or [H, W, C]
  std::vector<LayerSpec> layers;
  Loss loss = Loss::softmax_cross_entropy;

  bool operator==(const ModelSpec&) const = default;
};

// One layer's result of shape inference.
struct LayerShape {
  std::vector<std::size_t> out;  // per-sample output shape
  std::size_t params = 0;        // floats this layer owns in the flat vector (W then b)
};

// Text names used in model files ("dense", "max_pool2d", "softmax_cross_entropy", ...).
const char* layer_kind_name(LayerKind k);
const char* loss_name(Loss l);

// Shape inference and validation: every layer's output shape and parameter
// count, in layer order. Throws std::invalid_argument naming the layer (or
// "input", "loss") when the spec does not describe a valid model.
std::vector<LayerShape> layer_shapes(const ModelSpec& spec);

// For a spec that layer_shapes accepts:
std::size_t input_size(const ModelSpec& spec);   // prod(input) floats per sample
std::size_t num_outputs(const ModelSpec& spec);  // K, the last layer's width
// Label values accepted: K (softmax, mse with K >= 2), 2 (binary), 256 (mse, K == 1).
std::size_t num_classes(const ModelSpec& spec);
std::size_t num_params(const ModelSpec& spec);

// Parses a model file's text (JSON, docs/model-format.md) and validates it
// with layer_shapes. Unknown keys, unknown types, missing or zero required
// fields and shapes that do not fit throw std::invalid_argument.
ModelSpec parse_model_json(std::string_view json);
// Stable, compact JSON of a valid spec with every default written out.
std::string canonical_json(const ModelSpec& spec);

// Presets: true for "mlp", "cnn" and names starting "mlp:" or "cnn:" (which
// preset_spec may still reject).
bool is_preset_name(std::string_view name);
// "mlp" = "mlp:784-128-10": dense + relu per hidden size, softmax
// cross-entropy; "cnn" = "cnn:lenet5" (LeNet-5: conv2d 6 k5 pad 2, relu,
// max_pool2d 2, conv2d 16 k5, relu, max_pool2d 2, flatten, dense 120, relu,
// dense 84, relu, dense 10; 61,706 parameters; docs/models/cnn.json). Throws std::invalid_argument
// naming the name for anything else.
ModelSpec preset_spec(std::string_view name);
// The name Model::spec() reports for a preset: "mlp:784-128-10", "cnn:lenet5".
std::string canonical_preset_name(std::string_view name);

}  // namespace signfed::model
