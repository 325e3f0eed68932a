// Internal: the stages LayeredModel runs. A stage is one layer of a ModelSpec
// or a few fused ones (dense+relu, conv+relu+max pool: same numbers as the
// separate layers, one pass over memory; the fused conv backward also walks
// only the pool winners).
//
// Data: batches are sample-major (sample s's floats contiguous, the HWC / LC
// layout of spec.h), i.e. "feature x batch" column-major as in layers.h.
// Parameters: a stage holds a pointer to its W (then b) inside the model's
// flat vector, which never moves after construction; grad has the same layout.
// Scratch: reserve(batch) grows the stage's buffers to batch samples; no other
// call allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/model/init.h"
#include "core/model/internal/window_ops.h"
#include "core/model/spec.h"

namespace signfed::model::detail {

class Stage {
 public:
  virtual ~Stage() = default;

  virtual void reserve(std::size_t batch) = 0;
  // Runs on in (batch <= reserved samples); returns the output, which is this
  // stage's buffer or in itself (identity stages), valid until the next forward.
  virtual const float* forward(const float* in, std::size_t batch, bool training) = 0;
  // After forward(in, batch, true): dout = dL/d(output), which the stage may
  // overwrite. Writes this stage's parameter gradient at grad (overwritten,
  // same layout as its parameters) and, if din != nullptr, dL/d(input) into
  // din (which never aliases dout or in).
  virtual void backward(const float* in, float* dout, std::size_t batch, float* grad, float* din) = 0;
};

// Factories (one file each). w points at the layer's W; b follows it.
std::unique_ptr<Stage> make_dense_stage(const float* w, std::size_t in, std::size_t out, bool relu);
// pool: a max pool over the conv's output (window geometry over ho x wo x
// filters), fused; pool.kh == 0 means none. specialise: use a compile-time
// instance when one matches (window_ops.h; false only in tests that hold the
// runtime instance equal to it).
std::unique_ptr<Stage> make_conv_stage(const float* w, const Window& conv, std::size_t filters, bool relu,
                                       const Window& pool, bool specialise = true);
enum class PoolKind { max, avg, global_avg };
std::unique_ptr<Stage> make_pool_stage(PoolKind kind, const Window& win);
std::unique_ptr<Stage> make_activation_stage(LayerKind kind, std::size_t size);  // relu, tanh, sigmoid
// rng: the model's dropout stream, drawn in forward order while training.
std::unique_ptr<Stage> make_dropout_stage(double rate, std::size_t size, SplitMix64* rng);

}  // namespace signfed::model::detail
