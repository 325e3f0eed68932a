#include "core/codec/compress.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/data/rng.h"

namespace signfed::codec {
namespace {

void check_finite(std::span<const float> g) {
  for (std::size_t i = 0; i < g.size(); ++i)
    if (!std::isfinite(g[i]))
      throw CodecError("gradient coordinate " + std::to_string(i) + " is " + (std::isnan(g[i]) ? "NaN" : "infinite") +
                       ": the step size is probably too large, or the data has NaN");
}

std::vector<std::uint8_t> pack(const kernels::SignKernels& k, std::span<const float> x) {
  std::vector<std::uint8_t> bits(kernels::packed_bytes(x.size()));
  k.pack_signs(x, bits);
  return bits;
}

}  // namespace

bool is_vote_method(Method m) {
  return m == Method::signsgd || m == Method::s3gd || m == Method::randk || m == Method::signum;
}

const char* method_name(Method m) { return wire::EnumNameMethod(m); }

bool parse_method(std::string_view name, Method* out) {
  for (Method m : wire::EnumValuesMethod()) {
    if (name == wire::EnumNameMethod(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

std::size_t topk_count(std::size_t n, double gamma) {
  if (n == 0) return 0;
  const double k = std::round(gamma * static_cast<double>(n));
  return static_cast<std::size_t>(std::clamp(k, 1.0, static_cast<double>(n)));
}

double auto_gamma(std::size_t voters, std::size_t n) {
  // S3GD-MV Corollary 1: the smallest K with M^(2/3) K ~= N.
  const double g = std::pow(static_cast<double>(std::max<std::size_t>(voters, 1)), -2.0 / 3.0);
  return std::clamp(g, n > 0 ? 1.0 / static_cast<double>(n) : 1.0, 1.0);
}

UpdateEncoder::UpdateEncoder(std::size_t dim, const kernels::SignKernels& kernels)
    : dim_(dim), kernels_(kernels), error_(dim, 0.0f), work_(dim, 0.0f) {}

void UpdateEncoder::set_error_memory(std::span<const float> e) {
  if (e.size() != dim_) throw CodecError("error memory has " + std::to_string(e.size()) + " floats, expected " +
                                         std::to_string(dim_));
  std::copy(e.begin(), e.end(), error_.begin());
}

SignPacket UpdateEncoder::encode(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed) {
  if (g.size() != dim_)
    throw CodecError("gradient has " + std::to_string(g.size()) + " coordinates, expected " + std::to_string(dim_));
  check_finite(g);
  switch (cfg.method) {
    case Method::signsgd:
    case Method::signum:
      // Safaryan Alg. 2 line 5: the node sends sign(g), sign(0) = 0 (footnote 2):
      // 1 bit a coordinate when no coordinate is 0, else the smallest exact coding.
      return encode_ternary_best(ternary_signs(g));
    case Method::s3gd:
      return encode_topk(g, cfg);
    case Method::randk:
      return encode_randk(g, cfg, seed);
    case Method::stochsign:
      return encode_stochastic(g, seed);
    case Method::efsign:
      return encode_scaled_ef(g, cfg);
    case Method::fedsgd:
    case Method::fedavg:
      return encode_float32(g);
  }
  throw CodecError("unknown method " + std::to_string(static_cast<int>(cfg.method)));
}

SignPacket UpdateEncoder::encode_topk(std::span<const float> g, const MethodConfig& cfg) {
  // S3GD-MV eq. (5): g = g~ + eta * e.
  for (std::size_t i = 0; i < dim_; ++i) work_[i] = g[i] + cfg.eta * error_[i];
  check_finite(work_);
  const std::size_t k = topk_count(dim_, cfg.gamma);
  index_.resize(k);
  const std::size_t got = kernels_.select_topk(work_, k, index_, scratch_);
  index_.resize(got);
  // S3GD-MV eq. (6): e = g - TopK(g): the unsent coordinates carry over.
  std::copy(work_.begin(), work_.end(), error_.begin());
  for (std::uint32_t i : index_) error_[i] = 0.0f;
  // S3GD-MV eq. (4): TopKSign = sgn(TopK(g)) with sgn(0) = 0: a selected
  // coordinate that is exactly 0 (fewer than K nonzeros) is not a vote.
  std::erase_if(index_, [&](std::uint32_t i) { return work_[i] == 0.0f; });
  return encode_sparse(static_cast<std::uint32_t>(dim_), index_, work_);
}

SignPacket UpdateEncoder::encode_randk(std::span<const float> g, const MethodConfig& cfg, std::uint64_t seed) {
  // S3GD-MV Alg. 2 (RandKSign): K coordinates uniformly without replacement.
  // Selection sampling (Knuth's Algorithm S) yields them already sorted.
  const std::size_t k = topk_count(dim_, cfg.gamma);
  index_.clear();
  data::Rng rng(seed);
  std::size_t needed = k;
  for (std::size_t i = 0; i < dim_ && needed > 0; ++i) {
    if (rng.below(dim_ - i) < needed) {
      index_.push_back(static_cast<std::uint32_t>(i));
      --needed;
    }
  }
  // RandKSign = sgn(RandK(g)), sgn(0) = 0: a drawn zero coordinate abstains.
  std::erase_if(index_, [&](std::uint32_t i) { return g[i] == 0.0f; });
  return encode_sparse(static_cast<std::uint32_t>(dim_), index_, g);
}

SignPacket UpdateEncoder::encode_stochastic(std::span<const float> g, std::uint64_t seed) {
  // Safaryan Definition 3: +1 with probability 1/2 + g_i / (2 ||g||_2); the
  // packet carries ||g||_2 so that scale * sign is unbiased.
  double sq = 0.0;
  for (float v : g) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  data::Rng rng(seed);
  for (std::size_t i = 0; i < dim_; ++i) {
    const double p_plus = norm > 0.0 ? 0.5 + 0.5 * g[i] / norm : 0.5;
    work_[i] = rng.uniform() < p_plus ? 1.0f : -1.0f;
  }
  return make_dense_packet(static_cast<std::uint32_t>(dim_), pack(kernels_, work_), static_cast<float>(norm));
}

SignPacket UpdateEncoder::encode_scaled_ef(std::span<const float> g, const MethodConfig& cfg) {
  // EF-signSGD: p = g + e; C(p) = ||p||_1 / d * sign(p); e = p - C(p).
  double l1 = 0.0;
  for (std::size_t i = 0; i < dim_; ++i) {
    work_[i] = g[i] + cfg.eta * error_[i];
    l1 += std::fabs(work_[i]);
  }
  check_finite(work_);
  const float scale = static_cast<float>(l1 / static_cast<double>(dim_));
  // sign(0) = 0: C(p)_i = 0 where p_i = 0, so the residual there is 0 too.
  // The residual uses the value the server will decode.
  for (std::size_t i = 0; i < dim_; ++i)
    error_[i] = work_[i] - (work_[i] > 0.0f ? scale : work_[i] < 0.0f ? -scale : 0.0f);
  SignPacket p = encode_ternary_best(ternary_signs(work_));
  p.scale = scale;
  return p;
}

}  // namespace signfed::codec
