// The client half of every method: one stochastic gradient (fedavg: one model
// delta) in, the packet the board sends out (method.h's table says which).
//
// UpdateEncoder owns the per-client state the methods need across rounds (the
// error-compensation memory of s3gd and efsign) and its scratch buffers, so a
// steady-state encode allocates only the returned packet. Not thread-safe; one
// encoder per client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/codec/packet.h"
#include "core/kernels/sign_kernels.h"
#include "core/methods/method.h"

namespace signfed::methods {

// What an encoder keeps between rounds and reuses within one; the method
// files (internal/encode.h) read and write it.
struct EncoderState {
  EncoderState(std::size_t dim, const kernels::SignKernels& k) : dim(dim), kernels(k), error(dim, 0.0f), work(dim, 0.0f) {}
  std::size_t dim;
  const kernels::SignKernels& kernels;
  std::vector<float> error;              // error memory e (S3GD-MV eq. (6)) / EF residual
  std::vector<float> work;               // dim floats of scratch
  std::vector<std::uint32_t> index;      // selected coordinates
  std::vector<std::uint32_t> scratch;    // top-k kernel scratch
};

class UpdateEncoder {
 public:
  UpdateEncoder(std::size_t dim, const kernels::SignKernels& kernels) : state_(dim, kernels) {}

  // Compresses g, the local stochastic gradient (fedavg: the model delta
  // x_start - x_local), under cfg. `seed` drives randk and stochsign draws.
  // Throws codec::CodecError if g has a NaN or Inf (naming the coordinate).
  codec::SignPacket encode(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed);

  // Error-compensation memory e (S3GD-MV eq. (6)) / EF residual; zeros until used.
  std::span<const float> error_memory() const { return state_.error; }
  void set_error_memory(std::span<const float> e);
  // Exchanges the error memory with e (of dim floats, else codec::CodecError),
  // without copying: many clients can take turns on one encoder (simulation).
  void swap_error_memory(std::vector<float>& e);

 private:
  EncoderState state_;
};

}  // namespace signfed::methods
