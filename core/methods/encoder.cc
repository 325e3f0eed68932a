#include "core/methods/encoder.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/methods/internal/encode.h"

namespace signfed::methods {

namespace internal {
void check_finite(std::span<const float> x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw codec::CodecError("gradient coordinate " + std::to_string(i) + " is " +
                              (std::isnan(x[i]) ? "NaN" : "infinite") +
                              ": the step size is probably too large, or the data has NaN");
}
}  // namespace internal

void UpdateEncoder::set_error_memory(std::span<const float> e) {
  if (e.size() != state_.dim)
    throw codec::CodecError("error memory has " + std::to_string(e.size()) + " floats, expected " +
                            std::to_string(state_.dim));
  state_.error.assign(e.begin(), e.end());
}

void UpdateEncoder::swap_error_memory(std::vector<float>& e) {
  if (e.size() != state_.dim && !e.empty())
    throw codec::CodecError("error memory has " + std::to_string(e.size()) + " floats, expected " +
                            std::to_string(state_.dim) + " or none");
  state_.error.swap(e);
}

void UpdateEncoder::size_state(Method m) {
  if (state_.work.size() != state_.dim) state_.work.assign(state_.dim, 0.0f);  // once
  const bool keeps_error = m == Method::s3gd || m == Method::efsign;
  if (keeps_error && state_.error.size() != state_.dim) state_.error.assign(state_.dim, 0.0f);  // once
}

codec::SignPacket UpdateEncoder::encode(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed) {
  if (g.size() != state_.dim)
    throw codec::CodecError("gradient has " + std::to_string(g.size()) + " coordinates, expected " +
                            std::to_string(state_.dim));
  internal::check_finite(g);
  size_state(cfg.method);
  return internal::encode_update(state_, g, cfg, seed);
}

void UpdateEncoder::encode_into(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed,
                                codec::SignPacket& out) {
  if (g.size() != state_.dim)
    throw codec::CodecError("gradient has " + std::to_string(g.size()) + " coordinates, expected " +
                            std::to_string(state_.dim));
  internal::check_finite(g);
  switch (cfg.method) {
    case Method::signsgd:
    case Method::signum:  // internal::encode_signs, into our buffers
      codec::ternary_signs_into(g, signs_);
      codec::encode_ternary_best_into(signs_, scratch_, out);
      return;
    case Method::fedsgd:
    case Method::fedavg: codec::encode_float32_into(g, out); return;
    default:
      size_state(cfg.method);
      out = internal::encode_update(state_, g, cfg, seed);
      return;
  }
}

}  // namespace signfed::methods
