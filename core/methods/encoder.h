// The client half of every method: one stochastic gradient (fedavg: one model
// delta) in, the packet the board sends out (method.h's table says which).
//
// UpdateEncoder owns the per-client state the methods need across rounds (the
// error-compensation memory of s3gd and efsign) and its scratch buffers, so a
// steady-state encode allocates only the returned packet (encode_into: not even
// that, for the methods it names). Not thread-safe; one
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
  // `work` is sized by the first encode of a method that uses it (not by
  // signsgd, signum, fedsgd, fedavg), `error` (zeros) by the first encode of
  // s3gd or efsign or by set_error_memory: dim floats each that an edge board
  // running signsgd need not hold (docs/perf-edge.md).
  EncoderState(std::size_t dim, const kernels::SignKernels& k) : dim(dim), kernels(k) {}
  std::size_t dim;
  const kernels::SignKernels& kernels;
  std::vector<float> error;              // error memory e (S3GD-MV eq. (6)) / EF residual: dim floats, or empty until used
  std::vector<float> work;               // dim floats of scratch (empty until a method needs it)
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
  // The same packet (same bits), into `out`, whose payload keeps its storage
  // between calls: signsgd, signum, fedsgd and fedavg then allocate nothing
  // once the first rounds have sized the buffers (an edge round allocates
  // nothing: tests/edge/edge_loop_alloc_test.cc). The other methods still
  // build a fresh packet (one allocation or more per call).
  void encode_into(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed, codec::SignPacket& out);

  // Error-compensation memory e (S3GD-MV eq. (6)) / EF residual: empty until
  // s3gd or efsign first encodes (zeros then) or set_error_memory; dim floats after.
  std::span<const float> error_memory() const { return state_.error; }
  void set_error_memory(std::span<const float> e);
  // Exchanges the error memory with e (of dim floats, or empty: no memory yet;
  // else codec::CodecError), without copying: many clients can take turns on
  // one encoder (simulation). e receives what the encoder held (possibly empty).
  void swap_error_memory(std::vector<float>& e);

 private:
  void size_state(Method m);  // work (and error, for s3gd / efsign) to dim floats, once

  EncoderState state_;
  codec::TernarySigns signs_;  // encode_into's sign vector and coding scratch
  codec::CodecScratch scratch_;
};

}  // namespace signfed::methods
