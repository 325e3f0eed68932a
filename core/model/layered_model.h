// The generic model: runs any ModelSpec (spec.h) the presets included.
//
// Parameters: spec.h's flat layout (per layer in order, W row-major then b)
// and init rule. The layers run as stages (internal/stage.h); a dense or conv
// layer followed by relu, and a conv[+relu] followed by a max pool, run as one
// fused stage: the same floats as the separate layers, fewer passes over
// memory. The presets therefore reproduce the hand-written Mlp/Cnn bit for bit
// (tests/model/preset_identity_test.cc against tests/model/reference).
//
// Dropout: inverted, while training only, masks from the model's dropout
// stream (Model::reseed_dropout).
//
// Thread-safety and scratch: as Model and FlatModel. Scratch per sample of the
// largest batch seen: every stage's output, im2col columns for convolutions,
// masks for dropout, and two gradient buffers of the widest activation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/model/flat_model.h"
#include "core/model/init.h"
#include "core/model/internal/stage.h"
#include "core/model/spec.h"

namespace signfed::model {

class LayeredModel final : public FlatModel {
 public:
  // name: what spec() returns (a preset's canonical name, or canonical_json);
  // error_prefix: a string literal loss_and_grad's messages start with.
  // Throws std::invalid_argument if layer_shapes rejects spec.
  LayeredModel(ModelSpec spec, std::uint64_t seed, Init init, std::string name, const char* error_prefix = "model");

  std::string spec() const override { return name_; }
  const ModelSpec& architecture() const override { return arch_; }
  std::size_t input_size() const override { return input_size_; }
  std::size_t num_classes() const override { return classes_; }
  void reseed_dropout(std::uint64_t stream) override { dropout_rng_ = detail::SplitMix64(stream); }
  std::uint64_t dropout_position() const override { return dropout_rng_.state(); }

 private:
  void allocate_scratch(std::size_t batch) override;
  void forward(const float* x, std::size_t batch) override { out_ = run(x, batch, true); }
  double backward(const float* x, const std::uint8_t* y, std::size_t batch, float* grad) override;
  const float* logits(const float* x, std::size_t b) override { return run(x, b, false); }
  double score(const float* outputs, const std::uint8_t* y, std::size_t b, std::size_t* correct) override;

  const float* run(const float* x, std::size_t batch, bool training);
  void init_params(const std::vector<LayerShape>& shapes, std::uint64_t seed, Init init);
  void plan(const std::vector<LayerShape>& shapes);

  ModelSpec arch_;
  std::string name_;
  std::size_t input_size_ = 0, outputs_ = 0, classes_ = 0;
  std::size_t widest_ = 0;  // floats per sample of the widest stage output (gradient buffers)
  std::vector<std::unique_ptr<detail::Stage>> stages_;
  std::vector<std::size_t> grad_offset_;  // per stage: where its parameters start
  std::vector<const float*> ins_;         // per stage: its input in the last forward
  const float* out_ = nullptr;            // the last training forward's outputs
  std::vector<float> delta_;              // two ping-pong gradient buffers
  detail::SplitMix64 dropout_rng_;
};

}  // namespace signfed::model
