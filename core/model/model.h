// Models trained on the edge and replicated on the coordinator.
//
// A Model owns one flat, contiguous float32 parameter vector; every layer's
// weights and biases are views into it (layout: spec.h, per layer in order).
// Flat parameters are what the sign codecs compress and what the model digest
// hashes, so the layout is part of the wire contract.
//
// Inputs are row-major float32 batches (batch x input_size, pixel values in
// [0,1]); labels are class indices (uint8). The loss is the architecture's
// (spec.h; softmax cross-entropy for the presets), averaged over the batch.
//
// Thread-safety: a Model is not safe for concurrent calls (it owns scratch
// buffers sized for the largest batch seen, so steady-state training allocates
// nothing). Distinct Model objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/model/spec.h"

namespace signfed::model {

struct EvalResult {
  double loss = 0.0;      // mean loss over the samples
  double accuracy = 0.0;  // fraction in [0,1]
};

class Model {
 public:
  virtual ~Model() = default;

  // Canonical spec string: a preset's name ("mlp:784-128-10", "cnn:lenet5") or,
  // for a model file, canonical_json of its architecture; make_model(spec())
  // rebuilds the same architecture.
  virtual std::string spec() const = 0;
  // The architecture as data (spec.h), presets included; for exporters.
  virtual const ModelSpec& architecture() const = 0;
  virtual std::size_t input_size() const = 0;
  virtual std::size_t num_classes() const = 0;
  virtual std::size_t num_params() const = 0;

  // Dropout masks come from one splitmix64 stream per model, drawn in forward
  // order by every training forward pass (loss_and_grad); evaluate() never
  // drops. reseed_dropout restarts that stream at `stream`, so each client can
  // draw its own masks (e.g. from its index) and a run stays reproducible.
  // Until called the stream is SplitMix64(~seed). No-op without dropout layers.
  virtual void reseed_dropout(std::uint64_t /*stream*/) {}
  // Where the dropout stream stands now: reseed_dropout(dropout_position())
  // continues it exactly (the simulator parks a client's stream while its
  // worker's model trains another client). 0 without dropout layers.
  virtual std::uint64_t dropout_position() const { return 0; }

  virtual std::span<float> params() = 0;
  virtual std::span<const float> params() const = 0;

  // Mean loss over the batch; writes d(loss)/d(params) into grad (num_params floats).
  virtual double loss_and_grad(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t batch,
                               std::span<float> grad) = 0;

  // Loss and accuracy over n samples, processed in chunks (no gradient).
  // n == 0 gives {0, 0}. Throws std::invalid_argument if x or y is short or a
  // label is >= num_classes().
  EvalResult evaluate(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t n);

 protected:
  // Samples per evaluate() chunk; sizes the scratch for min(chunk, n) samples.
  virtual std::size_t prepare_eval(std::size_t n) = 0;
  // Forward pass of b samples (b <= the chunk), in evaluation mode; returns
  // b x K row-major outputs (K = num_outputs(architecture())), valid until the next call.
  virtual const float* logits(const float* x, std::size_t b) = 0;
  // Summed loss of b samples' outputs (from logits()) and, in *correct, how
  // many are right (spec.h's accuracy rule per loss). Default: softmax
  // cross-entropy over num_classes() logits.
  virtual double score(const float* outputs, const std::uint8_t* y, std::size_t b, std::size_t* correct);
};

// How parameters are drawn (both from one splitmix64 stream of the seed, in
// flat-layout order; bit-identical on every IEEE-754 platform):
enum class Init {
  he,     // weights U(+-sqrt(6/fan_in)) (He) before ReLU, U(+-sqrt(6/(fan_in+fan_out))) (Glorot) for the
          // output layer; biases 0
  torch,  // PyTorch's nn.Linear / nn.Conv2d defaults: weights and biases U(+-1/sqrt(fan_in))
};
const char* init_name(Init i);
bool parse_init(std::string_view name, Init* out);  // "he" | "torch"

// Builds a model from a spec: a preset name, "mlp" (= mlp:784-128-10),
// "mlp:784-256-64-10", "cnn" (= cnn:lenet5, 28x28x1 input, 10 classes), or a
// model file's JSON text (starts with '{'; spec.h, docs/model-format.md).
// Parameters are initialised deterministically from seed and init (same seed
// + spec + init => bit-identical params on every platform; spec.h's rule).
// Throws std::invalid_argument with a readable message on a bad spec.
std::unique_ptr<Model> make_model(std::string_view spec, std::uint64_t seed, Init init = Init::he);

// A --model argument as spec text for make_model: a preset name is returned
// as is; JSON text (starting with '{') is validated and returned as
// canonical_json; anything else is a path to a model file, read, validated and
// returned as canonical_json. Throws std::invalid_argument naming the path
// and the reason (missing, unreadable, invalid).
std::string load_model_argument(std::string_view arg);

}  // namespace signfed::model
