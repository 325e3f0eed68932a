// The mean methods: stochsign (Safaryan Def. 3), efsign (EF-signSGD), fedsgd
// (float32 gradients) and fedavg (float32 model deltas after local SGD). The
// coordinator averages what arrives, weighted by sample count or uniformly.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/data/rng.h"
#include "core/methods/internal/encode.h"
#include "core/methods/strategies.h"

namespace signfed::methods {

namespace internal {

codec::SignPacket encode_stochastic(EncoderState& s, std::span<const float> g, std::uint64_t seed) {
  // Safaryan Definition 3: +1 with probability 1/2 + g_i / (2 ||g||_2); the
  // packet carries ||g||_2 so that scale * sign is unbiased.
  double sq = 0.0;
  for (float v : g) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  data::Rng rng(seed);
  for (std::size_t i = 0; i < s.dim; ++i) {
    const double p_plus = norm > 0.0 ? 0.5 + 0.5 * g[i] / norm : 0.5;
    s.work[i] = rng.uniform() < p_plus ? 1.0f : -1.0f;
  }
  std::vector<std::uint8_t> bits(kernels::packed_bytes(s.dim));
  s.kernels.pack_signs(s.work, bits);
  return codec::make_dense_packet(static_cast<std::uint32_t>(s.dim), std::move(bits), static_cast<float>(norm));
}

codec::SignPacket encode_scaled_ef(EncoderState& s, std::span<const float> g, const MethodConfig& cfg) {
  // EF-signSGD: p = g + e; C(p) = ||p||_1 / d * sign(p); e = p - C(p).
  double l1 = 0.0;
  for (std::size_t i = 0; i < s.dim; ++i) {
    s.work[i] = g[i] + cfg.eta * s.error[i];
    l1 += std::fabs(s.work[i]);
  }
  check_finite(s.work);
  const float scale = static_cast<float>(l1 / static_cast<double>(s.dim));
  // sign(0) = 0: C(p)_i = 0 where p_i = 0, so the residual there is 0 too.
  // The residual uses the value the server will decode.
  for (std::size_t i = 0; i < s.dim; ++i)
    s.error[i] = s.work[i] - (s.work[i] > 0.0f ? scale : s.work[i] < 0.0f ? -scale : 0.0f);
  codec::SignPacket p = codec::encode_ternary_best(codec::ternary_signs(s.work));
  p.scale = scale;
  return p;
}

}  // namespace internal

bool Mean::accepts(wire::Encoding e) const {
  switch (method()) {
    case wire::Method::stochsign:  // +-1 everywhere (Safaryan Def. 3)
      return e == wire::Encoding::dense_sign;
    case wire::Method::efsign:  // scaled ternary signs
      return is_exact_sign_coding(e);
    default:
      return e == wire::Encoding::float32;
  }
}

namespace {

// Why the step x <- x - step * u must not be applied ("" if it may be): a
// non-finite coordinate, or a norm no float32 computation downstream survives.
std::string refusal(std::span<const float> u, double norm) {
  if (!std::all_of(u.begin(), u.end(), [](float x) { return std::isfinite(x); })) return "non-finite aggregate";
  if (!(norm <= static_cast<double>(FLT_MAX))) return "aggregate L2 norm above FLT_MAX";
  return "";
}

}  // namespace

namespace {

// McMahan et al.: each client weighted by its local sample count, at least 1
// (every counted update counts, as a sum of tallies needs), or uniformly.
std::uint64_t weight_of(const Counted& c, Weighting w) {
  if (w == Weighting::uniform) return 1;
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::min(c.samples, 4294967295.0)));
}

}  // namespace

void Mean::fold(Tally& tally, const Counted& update) const {
  auto* t = std::get_if<MeanTally>(&tally);
  if (!t) throw codec::CodecError("a mean method folds into a mean tally, not a vote tally");
  t->add(update.packet, weight_of(update, cfg_.weighting), cfg_.aggregate.clip);
}

Aggregate Mean::aggregate(std::uint32_t, const Tally& tally, float step, core::Replica& replica) const {
  const auto* t = std::get_if<MeanTally>(&tally);
  if (!t) throw codec::CodecError("a mean method aggregates a mean tally, not a vote tally");
  if (t->dim != replica.size()) throw codec::CodecError("mean tally has the wrong dimension");
  return apply(mean(*t), step, replica);
}

Aggregate Mean::aggregate(std::uint32_t round, std::span<const Counted> counted, float step, core::Replica& replica) const {
  const std::uint32_t dim = static_cast<std::uint32_t>(replica.size());
  if (tallies()) {  // the weighted mean: summed exactly, as relays' tallies are (all at once: cache-blocked)
    std::vector<codec::PacketView> views;
    std::vector<std::uint64_t> weights;
    for (const Counted& c : counted) {
      views.push_back(c.packet);
      weights.push_back(weight_of(c, cfg_.weighting));
    }
    MeanTally t(dim);
    t.add(views, weights, cfg_.aggregate.clip);
    return aggregate(round, Tally(std::move(t)), step, replica);
  }
  std::vector<codec::PacketView> views;
  std::vector<double> weights;
  for (const Counted& c : counted) {
    views.push_back(c.packet);
    weights.push_back(1.0);  // median and trimmed count every packet once
  }
  return apply(mean_aggregate(views, weights, dim, cfg_.aggregate), step, replica);
}

Aggregate Mean::apply(std::vector<float> mean, float step, core::Replica& replica) const {
  const std::uint32_t dim = static_cast<std::uint32_t>(replica.size());
  Aggregate a;
  double sq = 0.0;
  if (mean.empty()) {
    a.refused = "an update coordinate times its weight beyond 2^40 (or not finite)";
    sq = HUGE_VAL;
  } else {
    for (float x : mean) sq += static_cast<double>(x) * x;
    a.refused = refusal(mean, std::sqrt(sq));
  }
  if (a.refused.empty()) {
    replica.save();
    replica.apply_mean(mean, step);
    const auto p = replica.params();
    if (!std::all_of(p.begin(), p.end(), [](float x) { return std::isfinite(x); })) {
      replica.roll_back();
      a.refused = "model would become non-finite";
    }
  }
  if (!a.refused.empty()) {
    a.refused_norm = std::sqrt(sq);
    a.result = codec::encode_ternary_best(codec::TernarySigns::zeros(dim));  // as a round nobody counted in
    return a;
  }
  a.coords_moved = static_cast<std::uint64_t>(std::count_if(mean.begin(), mean.end(), [](float x) { return x != 0.0f; }));
  a.result = codec::encode_float32(mean);
  return a;
}

// The schedule's rate is the clients' local SGD step; the model moves by
// server_lr times the mean delta.
TaskPlan FedAvg::plan(float scheduled) const { return {cfg_.server_lr, scheduled}; }

}  // namespace signfed::methods
