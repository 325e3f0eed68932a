#include "tools/sim/rosenbrock.h"

#include <cmath>
#include <stdexcept>

#include "core/codec/packet.h"
#include "core/methods/vote.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::sim {

double rosenbrock_value(std::span<const double> x) {
  double f = 0.0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
    f += 100.0 * a * a + b * b;
  }
  return f;
}

void rosenbrock_grad_i(std::span<const double> x, std::uint32_t i, std::span<double> g) {
  std::fill(g.begin(), g.end(), 0.0);
  const double a = x[i + 1] - x[i] * x[i];
  g[i] = -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
  g[i + 1] = 200.0 * a;
}

void rosenbrock_grad(std::span<const double> x, std::span<double> g) {
  std::fill(g.begin(), g.end(), 0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i];
    g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
    g[i + 1] += 200.0 * a;
  }
}

RosenbrockOracle::RosenbrockOracle(std::uint32_t dim, std::uint32_t batch, double nu, std::uint64_t seed)
    : dim_(dim), batch_(std::max<std::uint32_t>(batch, 1)), nu_(nu), rng_(seed), tmp_(dim) {}

void RosenbrockOracle::sample(std::span<const double> x, std::span<double> g) {
  data::Rng& rng = rng_;
  std::fill(g.begin(), g.end(), 0.0);
  for (std::uint32_t t = 0; t < batch_; ++t) {
    rosenbrock_grad_i(x, static_cast<std::uint32_t>(rng.below(dim_ - 1)), tmp_);
    for (std::uint32_t j = 0; j < dim_; ++j) g[j] += tmp_[j] + nu_ * rng.normal();
  }
  for (double& v : g) v /= batch_;
}

namespace {

// Votes on the nodes' gradients with the real dense vote; returns the signs.
codec::TernarySigns vote(std::span<const std::vector<double>> grads, std::uint32_t dim, wire::TieRule tie,
                         std::uint64_t tie_seed, std::vector<float>& fbuf, std::vector<codec::SignPacket>& packets) {
  const kernels::SignKernels& k = kernels::best_sign_kernels();
  std::vector<codec::PacketView> views;
  views.reserve(grads.size());
  for (std::size_t m = 0; m < grads.size(); ++m) {
    for (std::uint32_t j = 0; j < dim; ++j) fbuf[j] = static_cast<float>(grads[m][j]);
    // sign(0) = 0 (Safaryan footnote 2): a node whose coordinate is 0 abstains,
    // as signfed's clients do. (At x0 = 0 with nu = 0 most f_i gradients are 0.)
    packets[m] = codec::encode_ternary_best(codec::ternary_signs(fbuf));
    views.push_back(packets[m].view());
  }
  return methods::majority_vote_dense(views, dim, tie, tie_seed, k).signs;
}

}  // namespace

std::vector<double> run_rosenbrock(const RosenbrockConfig& cfg, std::uint64_t seed) {
  if (cfg.dim < 2 || cfg.nodes < 1) throw std::invalid_argument("rosenbrock: need dim >= 2 and nodes >= 1");
  std::vector<double> x = cfg.x0.empty() ? std::vector<double>(cfg.dim, 0.0) : cfg.x0;
  if (x.size() != cfg.dim) throw std::invalid_argument("rosenbrock: x0 has the wrong dimension");
  std::vector<RosenbrockOracle> nodes;
  for (std::uint32_t m = 0; m < cfg.nodes; ++m) nodes.emplace_back(cfg.dim, cfg.batch, cfg.nu, data::mix_seed(seed, m, 0x60));
  std::vector<std::vector<double>> grads(cfg.nodes, std::vector<double>(cfg.dim));
  std::vector<float> fbuf(cfg.dim);
  std::vector<codec::SignPacket> packets(cfg.nodes);
  std::vector<double> f;
  f.reserve(cfg.iters + 1);
  f.push_back(rosenbrock_value(x));
  for (std::uint32_t k = 0; k < cfg.iters; ++k) {
    for (std::uint32_t m = 0; m < cfg.nodes; ++m) nodes[m].sample(x, grads[m]);
    const codec::TernarySigns s = vote(grads, cfg.dim, cfg.tie, data::mix_seed(seed, k, 0x71e), fbuf, packets);
    const double step = cfg.inv_sqrt ? cfg.gamma0 / std::sqrt(k + 1.0) : cfg.gamma0;
    for (std::uint32_t j = 0; j < cfg.dim; ++j) x[j] -= step * s.at(j);
    f.push_back(rosenbrock_value(x));
  }
  return f;
}

SeriesStats run_rosenbrock_reps(const RosenbrockConfig& cfg, std::uint32_t reps, std::uint64_t seed) {
  SeriesStats st;
  std::vector<double> sum(cfg.iters + 1, 0.0), sum2(cfg.iters + 1, 0.0);
  for (std::uint32_t r = 0; r < reps; ++r) {
    const std::vector<double> f = run_rosenbrock(cfg, data::mix_seed(seed, r, 0x7e9));
    for (std::size_t k = 0; k < f.size(); ++k) {
      sum[k] += f[k];
      sum2[k] += f[k] * f[k];
    }
    st.final_values.push_back(f.back());
  }
  st.mean.resize(sum.size());
  st.se.resize(sum.size());
  for (std::size_t k = 0; k < sum.size(); ++k) {
    st.mean[k] = sum[k] / reps;
    const double var = reps > 1 ? std::max(0.0, (sum2[k] - reps * st.mean[k] * st.mean[k]) / (reps - 1.0)) : 0.0;
    st.se[k] = std::sqrt(var / reps);
  }
  return st;
}

double rosenbrock_rho(std::span<const double> x, std::uint32_t coord, double nu) {
  std::vector<double> g(x.size()), gi(x.size());
  rosenbrock_grad(x, g);
  if (g[coord] == 0.0) throw std::domain_error("rosenbrock_rho: the gradient coordinate is zero");
  const double s = g[coord] > 0.0 ? 1.0 : -1.0;
  double rho = 0.0;
  const auto n = static_cast<std::uint32_t>(x.size() - 1);
  for (std::uint32_t i = 0; i < n; ++i) {
    rosenbrock_grad_i(x, i, gi);
    // P(s * (gi_j + nu Z) > 0) = Phi(s * gi_j / nu).
    rho += 0.5 * std::erfc(-s * gi[coord] / (nu * std::sqrt(2.0)));
  }
  return rho / n;
}

McEstimate vote_agreement_mc(std::span<const double> x, std::uint32_t coord, double nu, std::uint32_t voters,
                             std::uint32_t trials, wire::TieRule tie, std::uint64_t seed) {
  const auto dim = static_cast<std::uint32_t>(x.size());
  std::vector<double> g(dim);
  rosenbrock_grad(x, g);
  const int s = g[coord] > 0.0 ? 1 : -1;
  std::vector<RosenbrockOracle> nodes;
  for (std::uint32_t m = 0; m < voters; ++m) nodes.emplace_back(dim, 1, nu, data::mix_seed(seed, m, 0x1e8));
  std::vector<std::vector<double>> grads(voters, std::vector<double>(dim));
  std::vector<float> fbuf(dim);
  std::vector<codec::SignPacket> packets(voters);
  double sum = 0.0, sum2 = 0.0;
  std::uint64_t ties = 0;
  for (std::uint32_t t = 0; t < trials; ++t) {
    for (std::uint32_t m = 0; m < voters; ++m) nodes[m].sample(x, grads[m]);
    const int v = vote(grads, dim, tie, data::mix_seed(seed, t, 0x71e), fbuf, packets).at(coord);
    const double a = static_cast<double>(v * s);
    sum += a;
    sum2 += a * a;
    // A tie under TieRule::zero shows as 0; under random it is a coin, counted by recounting.
    int votes = 0;
    for (std::uint32_t m = 0; m < voters; ++m) {
      const float g = static_cast<float>(grads[m][coord]);
      votes += (g > 0.0f) - (g < 0.0f);
    }
    if (votes == 0) ++ties;
  }
  McEstimate e;
  e.mean = sum / trials;
  e.se = std::sqrt(std::max(0.0, sum2 / trials - e.mean * e.mean) / trials);
  e.tie_fraction = static_cast<double>(ties) / trials;
  return e;
}

}  // namespace signfed::sim
