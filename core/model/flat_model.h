// What LayeredModel and the reference Mlp/Cnn (tests/model/reference) share:
// one owned flat parameter vector, scratch buffers that grow to the largest batch seen (so steady-state training allocates
// nothing), loss_and_grad's argument checks and evaluate()'s chunk size. A
// network supplies its scratch layout (allocate_scratch), forward pass and
// backward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/model/model.h"

namespace signfed::model {

class FlatModel : public Model {
 public:
  // evaluate() uses chunks of max(largest batch seen, kMinEvalChunk) samples.
  static constexpr std::size_t kMinEvalChunk = 32;

  std::size_t num_params() const override { return params_.size(); }
  std::span<float> params() override { return params_; }
  std::span<const float> params() const override { return params_; }

  // Throws std::invalid_argument if batch == 0, x has fewer than
  // batch*input_size() floats, y fewer than batch labels, a label >=
  // num_classes(), or grad.size() != num_params().
  double loss_and_grad(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t batch,
                       std::span<float> grad) final;

  // Samples the scratch buffers currently hold (the largest batch seen); for
  // tests of the no-allocation contract.
  std::size_t scratch_batch_capacity() const noexcept { return capacity_; }

 protected:
  // name: what loss_and_grad's messages start with ("mlp", "cnn").
  explicit FlatModel(const char* name, std::size_t num_params = 0) : params_(num_params, 0.0f), name_(name) {}

  // Grows the scratch to batch samples (allocate_scratch) if it holds fewer.
  void reserve_batch(std::size_t batch);
  std::size_t prepare_eval(std::size_t n) final;

  // The network's own parts. allocate_scratch: size every scratch buffer for
  // batch samples (capacity_ is set afterwards). forward: run the layers on x
  // (batch samples, input_size() floats each). backward: after forward on the
  // same x, write d(loss)/d(params) into grad and return the summed (not mean)
  // cross-entropy; y is checked.
  virtual void allocate_scratch(std::size_t batch) = 0;
  virtual void forward(const float* x, std::size_t batch) = 0;
  virtual double backward(const float* x, const std::uint8_t* y, std::size_t batch, float* grad) = 0;

  std::vector<float> params_;
  std::size_t capacity_ = 0;  // samples the scratch buffers hold

 private:
  const char* name_;
};

}  // namespace signfed::model
