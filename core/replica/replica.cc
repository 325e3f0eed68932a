#include "core/replica/replica.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

#include "core/codec/step.h"

namespace signfed::core {

std::uint64_t Replica::digest() const { return codec::model_digest(params_, basis_); }

void Replica::apply(const codec::PacketView& result, float step, float mu) {
  DecodeBuffers buffers;
  apply(result, step, mu, buffers);
}

void Replica::apply(const codec::PacketView& result, float step, float mu, DecodeBuffers& b) {
  // The decoders validate what they decode (codec::validate would decode a
  // runs packet a second time, into a buffer of its own).
  if (result.dim != params_.size())
    throw codec::CodecError("packet has " + std::to_string(result.dim) + " coordinates, expected " +
                            std::to_string(params_.size()));
  if (result.encoding == wire::Encoding::float32) {
    codec::decode_float32_into(result, b.mean);
    apply_mean(b.mean, step);
  } else {
    codec::decode_ternary_into(result, b.scratch, b.signs);
    apply_signs(b.signs, step, mu);
  }
}

void Replica::apply_signs(const codec::TernarySigns& s, float step, float mu) {
  assert(s.dim == params_.size());
  if (mu != 0.0f || !momentum_.empty()) {
    if (momentum_.empty()) momentum_.assign(params_.size(), 0.0f);
    codec::apply_momentum_step(params_, momentum_, s, mu, step);
  } else {
    codec::apply_sign_step(params_, s, step);
  }
}

void Replica::apply_mean(std::span<const float> u, float step) {
  assert(u.size() == params_.size());
  codec::apply_dense_step(params_, u, step);
}

void Replica::enable_momentum() {
  if (momentum_.empty()) momentum_.assign(params_.size(), 0.0f);
}

void Replica::assign(std::span<const float> params, std::span<const float> momentum) {
  if (params.size() != params_.size() || (!momentum.empty() && momentum.size() != params_.size()))
    throw std::invalid_argument("replica: " + std::to_string(params.size()) + " parameters and " +
                                std::to_string(momentum.size()) + " momentum values for a model of " +
                                std::to_string(params_.size()));
  std::copy(params.begin(), params.end(), params_.begin());
  momentum_.assign(momentum.begin(), momentum.end());
}

void Replica::save() {
  saved_params_.assign(params_.begin(), params_.end());
  saved_momentum_.assign(momentum_.begin(), momentum_.end());
  saved_ = true;
}

void Replica::roll_back() {
  assert(saved_);
  std::copy(saved_params_.begin(), saved_params_.end(), params_.begin());
  momentum_.assign(saved_momentum_.begin(), saved_momentum_.end());
}

}  // namespace signfed::core
