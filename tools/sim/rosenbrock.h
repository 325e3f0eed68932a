// The d-dimensional Rosenbrock problem of Safaryan & Richtarik Sec. 5.1 as a
// built-in problem (no dataset), minimised by distributed signSGD with the
// real majority vote (methods::majority_vote_dense over dense sign packets):
//
//   f(x) = sum_{i=1}^{d-1} f_i(x),  f_i(x) = 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2
//   node m's stochastic gradient: (1/tau) sum_{t=1}^{tau} (grad f_{i_t}(x) + xi_t),
//     i_t uniform in {1..d-1}, xi_t ~ N(0, nu^2 I)      (portable draws, data/rng.h)
//   x_{k+1} = x_k - gamma_k * vote_k,  gamma_k = gamma0 or gamma0 / sqrt(k+1)
//
// Pure functions of (config, seed); thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/data/rng.h"
#include "schema/signfed_generated.h"

namespace signfed::sim {

struct RosenbrockConfig {
  std::uint32_t dim = 10;
  std::uint32_t nodes = 1;      // M
  std::uint32_t batch = 1;      // tau
  double nu = 1.0;              // noise standard deviation
  double gamma0 = 0.02;
  bool inv_sqrt = false;        // gamma_k = gamma0 / sqrt(k+1)
  std::uint32_t iters = 1000;   // K
  wire::TieRule tie = wire::TieRule::zero;
  std::vector<double> x0;       // empty: the origin (f = d - 1)
};

double rosenbrock_value(std::span<const double> x);
// Full gradient sum_i grad f_i(x) into g (size d).
void rosenbrock_grad(std::span<const double> x, std::span<double> g);
// grad f_i(x) for i in [0, d-2] (0-based) into g (overwritten).
void rosenbrock_grad_i(std::span<const double> x, std::uint32_t i, std::span<double> g);

// One node's minibatch stochastic gradient (see above) into g.
class RosenbrockOracle {
 public:
  RosenbrockOracle(std::uint32_t dim, std::uint32_t batch, double nu, std::uint64_t seed);
  void sample(std::span<const double> x, std::span<double> g);

 private:
  std::uint32_t dim_, batch_;
  double nu_;
  data::Rng rng_;
  std::vector<double> tmp_;
};

// f(x_k) for k = 0..iters (iters + 1 values) of one repetition.
std::vector<double> run_rosenbrock(const RosenbrockConfig& cfg, std::uint64_t seed);

struct SeriesStats {
  std::vector<double> mean, se;  // per iteration, over repetitions (se = sd / sqrt(reps))
  std::vector<double> final_values;
};
// `reps` repetitions with seeds mix(seed, rep).
SeriesStats run_rosenbrock_reps(const RosenbrockConfig& cfg, std::uint32_t reps, std::uint64_t seed);

// Exact success probability rho_j = P(sign(grad f_i(x)_j + xi_j) = sign(g_j)) of
// one tau = 1 sample (i uniform, xi ~ N(0, nu^2)); g = the full gradient, g_j != 0.
double rosenbrock_rho(std::span<const double> x, std::uint32_t coord, double nu);

// Monte-Carlo E[sign(vote_j) * sign(g_j)] at fixed x with `voters` tau = 1 nodes,
// through the real dense vote (ties under `tie`), over `trials` independent votes.
struct McEstimate {
  double mean = 0.0, se = 0.0;
  double tie_fraction = 0.0;
};
McEstimate vote_agreement_mc(std::span<const double> x, std::uint32_t coord, double nu, std::uint32_t voters,
                             std::uint32_t trials, wire::TieRule tie, std::uint64_t seed);

}  // namespace signfed::sim
