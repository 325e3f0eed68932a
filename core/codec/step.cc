#include "core/codec/step.h"

#include <cstring>
#include <string>

namespace signfed::codec {

void apply_sign_step(std::span<float> x, const TernarySigns& s, float step) {
  if (s.dim != x.size()) throw CodecError("vote has " + std::to_string(s.dim) + " coordinates, model has " +
                                          std::to_string(x.size()));
  // Branch-free: x - 0 leaves every x (-0.0 included) unchanged, and
  // x - (+-step) rounds exactly as the branchy form; replicas stay bit-identical.
  const float delta[4] = {0.0f, 0.0f, step, -step};  // [moved << 1 | negative]
  for (std::size_t i = 0; i < x.size(); ++i) {
    const unsigned moved = (s.support[i >> 3] >> (i & 7)) & 1u;
    const unsigned neg = (s.negative[i >> 3] >> (i & 7)) & 1u;
    x[i] = x[i] - delta[moved << 1 | neg];
  }
}

void apply_momentum_step(std::span<float> x, std::span<float> v, const TernarySigns& s, float mu, float step) {
  if (s.dim != x.size() || v.size() != x.size())
    throw CodecError("momentum step: vote, model and velocity sizes differ");
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float si = static_cast<float>(s.at(static_cast<std::uint32_t>(i)));
    v[i] = mu * v[i] + si;
    x[i] = x[i] - step * v[i];
  }
}

void apply_dense_step(std::span<float> x, std::span<const float> u, float step) {
  if (u.size() != x.size()) throw CodecError("update has " + std::to_string(u.size()) + " coordinates, model has " +
                                             std::to_string(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = x[i] - step * u[i];
}

std::uint64_t architecture_basis(std::string_view spec) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : spec) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t model_digest(std::span<const float> x, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (float f : x) {
    std::uint32_t w;
    std::memcpy(&w, &f, 4);
    h ^= w;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace signfed::codec
