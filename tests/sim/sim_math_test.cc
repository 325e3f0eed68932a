// Unit tests of the simulator's maths: regularized incomplete beta, Lemma 8,
// Rosenbrock with the real vote, sweep expansion and the latency model.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/kernels/sign_kernels.h"
#include "tools/sim/betainc.h"
#include "tools/sim/fleet.h"
#include "tools/sim/rosenbrock.h"
#include "tools/sim/sweep.h"

using namespace signfed::sim;

TEST_CASE("incomplete beta: closed forms and known values") {
  for (double x : {0.0, 0.1, 0.37, 0.5, 0.9, 1.0}) {
    CHECK(incomplete_beta(x, 1, 1) == doctest::Approx(x).epsilon(1e-12));
    CHECK(incomplete_beta(x, 3, 1) == doctest::Approx(x * x * x).epsilon(1e-12));
    CHECK(incomplete_beta(x, 1, 4) == doctest::Approx(1 - std::pow(1 - x, 4)).epsilon(1e-12));
  }
  // I(0.3; 2, 3) = P(Bin(4, 0.3) >= 2) = 0.3483 exactly.
  CHECK(incomplete_beta(0.3, 2, 3) == doctest::Approx(0.3483).epsilon(1e-12));
  // Symmetry I(1/2; a, a) = 1/2 and I(x; a, b) = 1 - I(1-x; b, a).
  for (double a : {0.5, 2.0, 7.0, 250.0}) CHECK(incomplete_beta(0.5, a, a) == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(incomplete_beta(0.2, 2.5, 4.5) == doctest::Approx(1 - incomplete_beta(0.8, 4.5, 2.5)).epsilon(1e-12));
  // Non-integer reference values (scipy.special.betainc).
  CHECK(incomplete_beta(0.4, 0.5, 0.5) == doctest::Approx(0.4359057831510252).epsilon(1e-12));  // arcsine law: 2/pi asin(sqrt x)
  CHECK(incomplete_beta(0.7, 2.5, 1.5) == doctest::Approx(0.5843121477019746).epsilon(1e-12));
  CHECK_THROWS(incomplete_beta(1.5, 1, 1));
  CHECK_THROWS(incomplete_beta(0.5, 0, 1));
}

TEST_CASE("incomplete beta at integer parameters is the binomial tail P(Bin(m, x) >= l)") {
  // Checks the argument order of our ibeta call (a = l, b = m - l + 1, then x)
  // against the binomial sum, computed here in log space.
  for (std::uint32_t m : {1u, 2u, 5u, 9u, 40u, 501u})
    for (std::uint32_t l = 1; l <= m; l += std::max<std::uint32_t>(1, m / 7))
      for (double x : {0.05, 0.3, 0.5, 0.61, 0.97}) {
        double tail = 0.0;
        for (std::uint32_t j = l; j <= m; ++j)
          tail += std::exp(std::lgamma(m + 1.0) - std::lgamma(j + 1.0) - std::lgamma(m - j + 1.0) + j * std::log(x) +
                           (m - j) * std::log1p(-x));
        CHECK(incomplete_beta(x, l, m - l + 1) == doctest::Approx(tail).epsilon(1e-9));
      }
}

TEST_CASE("vote agreement: 2l-1 and 2l voters have the same expectation (Lemma 8, exact)") {
  for (double rho : {0.3, 0.55, 0.8})
    for (std::uint32_t l = 1; l <= 6; ++l) {
      // Direct sum over the binomial for M = 2l with ties = 0.
      const std::uint32_t m = 2 * l;
      double e = 0.0;
      for (std::uint32_t s = 0; s <= m; ++s) {
        const double p = std::exp(std::lgamma(m + 1.0) - std::lgamma(s + 1.0) - std::lgamma(m - s + 1.0)) *
                         std::pow(rho, s) * std::pow(1 - rho, m - s);
        e += p * (2.0 * s > m ? 1.0 : 2.0 * s < m ? -1.0 : 0.0);
      }
      CHECK(vote_agreement(rho, m) == doctest::Approx(e).epsilon(1e-12));
      CHECK(vote_agreement(rho, m - 1) == doctest::Approx(e).epsilon(1e-12));
    }
  CHECK(vote_agreement(0.7, 1) == doctest::Approx(0.4));
}

// Lemma 8 measured: at a fixed x, votes of M tau=1 Rosenbrock nodes through the
// real dense vote. Tolerance: 4 Monte-Carlo standard errors (each estimate's se
// is sqrt(Var/trials) <= 1/sqrt(trials) = 0.0063 at 25,000 trials), so a
// correct implementation fails with probability ~6e-5 per comparison.
TEST_CASE("Lemma 8 by Monte Carlo: E[sign(vote) sign(g)] = 2 I(rho, l, l) - 1 for M = 2l-1 and 2l") {
  const std::vector<double> x = {0.3, -0.2, 0.5, 0.8, 1.1, 0.0, 0.4, 0.9, 1.2, 0.7};
  const double nu = 20.0;
  for (std::uint32_t coord : {1u, 4u}) {
    const double rho = rosenbrock_rho(x, coord, nu);
    CAPTURE(coord);
    CAPTURE(rho);
    CHECK(rho > 0.5);
    CHECK(rho < 0.95);  // a non-trivial success probability
    for (std::uint32_t l : {1u, 2u, 3u}) {
      const double expected = 2.0 * incomplete_beta(rho, l, l) - 1.0;
      const McEstimate odd = vote_agreement_mc(x, coord, nu, 2 * l - 1, 25000, signfed::wire::TieRule::zero, 11 + l);
      const McEstimate even = vote_agreement_mc(x, coord, nu, 2 * l, 25000, signfed::wire::TieRule::zero, 101 + l);
      CAPTURE(l);
      CAPTURE(odd.mean);
      CAPTURE(even.mean);
      CHECK(std::fabs(odd.mean - expected) < 4.0 * odd.se + 1e-9);
      CHECK(std::fabs(even.mean - expected) < 4.0 * even.se + 1e-9);
      CHECK(odd.tie_fraction == 0.0);
      CHECK(even.tie_fraction > 0.0);  // even M ties (move 0) and still has the same mean
      // Random tie-breaking keeps the mean too (a fair coin adds 0 in expectation).
      const McEstimate coin = vote_agreement_mc(x, coord, nu, 2 * l, 25000, signfed::wire::TieRule::random, 7 + l);
      CHECK(std::fabs(coin.mean - expected) < 4.0 * coin.se + 1e-9);
    }
  }
}

TEST_CASE("Rosenbrock: value and gradient") {
  std::vector<double> ones(10, 1.0), zeros(10, 0.0), g(10);
  CHECK(rosenbrock_value(ones) == 0.0);
  CHECK(rosenbrock_value(zeros) == 9.0);
  rosenbrock_grad(ones, g);
  for (double v : g) CHECK(v == 0.0);
  // Finite differences.
  std::vector<double> x = {0.3, -0.2, 0.5, 0.8, 1.1, 0.0, 0.4, 0.9, 1.2, 0.7};
  rosenbrock_grad(x, g);
  for (std::size_t j = 0; j < x.size(); ++j) {
    auto xp = x, xm = x;
    xp[j] += 1e-6;
    xm[j] -= 1e-6;
    CHECK(g[j] == doctest::Approx((rosenbrock_value(xp) - rosenbrock_value(xm)) / 2e-6).epsilon(1e-5));
  }
}

TEST_CASE("Rosenbrock: the odd series improves with M (1 vs 5 vs 9)") {
  // x0 = 0, gamma_k = 0.02/sqrt(k+1), nu = 1, tau = 1, K = 2000, 200 repetitions:
  // the decaying step gives f(x_K) a small spread (constant steps leave it
  // heavy-tailed), so 3 standard errors separate M = 1, 5, 9 (measured: ~5).
  RosenbrockConfig cfg;
  cfg.iters = 2000;
  cfg.gamma0 = 0.02;
  cfg.inv_sqrt = true;
  cfg.nu = 1.0;
  std::vector<double> mean, se;
  for (std::uint32_t m : {1u, 5u, 9u}) {
    cfg.nodes = m;
    const SeriesStats s = run_rosenbrock_reps(cfg, 200, 1234 + m);
    mean.push_back(s.mean.back());
    se.push_back(s.se.back());
  }
  CAPTURE(mean[0]);
  CAPTURE(mean[1]);
  CAPTURE(mean[2]);
  // Strictly better by more than 3 combined standard errors.
  CHECK(mean[0] - mean[1] > 3.0 * std::hypot(se[0], se[1]));
  CHECK(mean[1] - mean[2] > 3.0 * std::hypot(se[1], se[2]));
}

TEST_CASE("Rosenbrock runs are deterministic in the seed") {
  RosenbrockConfig cfg;
  cfg.nodes = 4;
  cfg.iters = 50;
  CHECK(run_rosenbrock(cfg, 5) == run_rosenbrock(cfg, 5));
  CHECK(run_rosenbrock(cfg, 5) != run_rosenbrock(cfg, 6));
}

TEST_CASE("sweep: parse and expand") {
  const auto axes = parse_sweep("# demo\nmethod: signsgd, s3gd\n\npartition = iid,class1 # two\nseed: 1,2,3\n");
  REQUIRE(axes.size() == 3);
  CHECK(axes[1].key == "partition");
  CHECK(axes[1].values == std::vector<std::string>{"iid", "class1"});
  const auto points = expand(axes);
  REQUIRE(points.size() == 12);
  CHECK(point_text(points.front()) == "method=signsgd partition=iid seed=1");
  CHECK(point_text(points[1]) == "method=signsgd partition=iid seed=2");  // last axis fastest
  CHECK(point_text(points.back()) == "method=s3gd partition=class1 seed=3");
  CHECK(expand({}).size() == 1);
  CHECK(parse_axis("--gamma=0.1,auto").key == "gamma");
  CHECK_THROWS(parse_axis("gamma"));
  CHECK_THROWS(parse_axis("gamma: 0.1,,0.2"));
  CHECK_THROWS(parse_sweep("seed: 1\nseed: 2\n"));
  CHECK(tag_without_seed("method=s3gd seed=3 clients=10") == "method=s3gd clients=10");
}

TEST_CASE("fleet: profiles, slow fraction and the latency model") {
  FleetSpec f;
  f.ms_per_sample = 1.0;
  parse_slow("0.1:10", f);
  const auto p = make_profiles(f, 50, 7);
  int slow = 0;
  for (const auto& c : p) {
    slow += c.slow;
    CHECK(c.ms_per_sample == (c.slow ? 10.0 : 1.0));
  }
  CHECK(slow == 5);
  CHECK(make_profiles(f, 50, 7)[3].slow == p[3].slow);
  // 2 x 20 ms latency + 1250 B at 50 Mbit/s (0.2 ms) + 64 samples x 1 ms + 12500 B at 10 Mbit/s (10 ms).
  ClientProfile c;
  c.ms_per_sample = 1.0;
  CHECK(round_latency_ms(c, 64, 12500, 1250) == doctest::Approx(40.0 + 0.2 + 64.0 + 10.0));
  f.speed_sigma = 0.5;
  f.slow_fraction = 0;
  const auto q = make_profiles(f, 200, 1);
  double lo = 1e9, hi = 0;
  for (const auto& c2 : q) lo = std::min(lo, c2.ms_per_sample), hi = std::max(hi, c2.ms_per_sample);
  CHECK(lo < 0.6);
  CHECK(hi > 1.6);
  CHECK_THROWS(parse_slow("0.1", f));
  CHECK(parse_crashes("3@10,7@25").size() == 2);
  CHECK_THROWS(parse_crashes("3:10"));
  int drops = 0;
  for (std::uint32_t r = 0; r < 1000; ++r) drops += drops_out(0.2, 1, 3, r);
  CHECK(drops > 150);
  CHECK(drops < 250);
}
