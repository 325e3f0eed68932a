// Client-side gradient compression, one function of (method, gradient, state).
//
// UpdateEncoder owns the per-client state the methods need across rounds (the
// error-compensation memory of s3gd and efsign) and its scratch buffers, so a
// steady-state encode allocates only the returned packet. Not thread-safe; one
// encoder per client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/codec/packet.h"
#include "core/kernels/sign_kernels.h"
#include "schema/signfed_generated.h"

namespace signfed::codec {

using wire::Method;

struct MethodConfig {
  Method method = Method::signsgd;
  float gamma = 1.0f;      // K/N for s3gd, randk
  float eta = 1.0f;        // error-compensation weight (S3GD-MV eq. (5)); efsign memory weight
  float momentum = 0.0f;   // signum mu (applied after the vote, not here)
  wire::TieRule tie_rule = wire::TieRule::zero;
};

// True for methods whose server side is a majority vote (downlink: signs).
bool is_vote_method(Method m);
const char* method_name(Method m);
// Parses "signsgd", "s3gd", ...; returns false if unknown.
bool parse_method(std::string_view name, Method* out);

// K = round(gamma * N), at least 1 when N > 0, at most N (S3GD-MV: gamma = K/N).
std::size_t topk_count(std::size_t n, double gamma);

// gamma from S3GD-MV Corollary 1's rule M^(2/3) * K ~= N, i.e. gamma = M^(-2/3), capped to [1/N, 1].
double auto_gamma(std::size_t voters, std::size_t n);

class UpdateEncoder {
 public:
  UpdateEncoder(std::size_t dim, const kernels::SignKernels& kernels);

  // Compresses g, the local stochastic gradient (fedavg: the model delta
  // x_start - x_local), under cfg. `seed` drives randk and stochsign draws.
  // Throws CodecError if g has a NaN or Inf (naming the coordinate).
  SignPacket encode(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed);

  // Error-compensation memory e (S3GD-MV eq. (6)) / EF residual; zeros until used.
  std::span<const float> error_memory() const { return error_; }
  void set_error_memory(std::span<const float> e);

 private:
  SignPacket encode_topk(std::span<const float> g, const MethodConfig& cfg);
  SignPacket encode_randk(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed);
  SignPacket encode_stochastic(std::span<const float> g, std::uint64_t seed);
  SignPacket encode_scaled_ef(std::span<const float> g, const MethodConfig& cfg);

  std::size_t dim_;
  const kernels::SignKernels& kernels_;
  std::vector<float> error_;
  std::vector<float> work_;
  std::vector<std::uint32_t> index_;
  std::vector<std::uint32_t> scratch_;
};

}  // namespace signfed::codec
