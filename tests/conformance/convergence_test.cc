// Convergence tests that can fail. Each federation runs the real coordinator
// and edge clients in one process (signfed-sim's engine) on Fashion-MNIST;
// each threshold sits a few points below what the independent PyTorch
// reference (tools/reference) reaches on the same plan, so a method whose
// maths regresses drops below it. Figures: docs/conformance.md.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "tools/sim/rosenbrock.h"
#include "tools/sim/sim.h"
#include "tests/support/temp_db.h"

using namespace signfed;
using test::TempDb;

namespace {


const std::shared_ptr<const data::Dataset>& train() {
  static const std::shared_ptr<const data::Dataset> t = sim::load_train(sim::SimConfig{});
  return t;
}

// M = 10, B = 32, evaluated on the whole test set after the last round.
sim::SimResult federate(const std::string& method, const std::string& partition, float lr, std::uint32_t rounds,
                        const std::function<void(sim::SimConfig&)>& extra = {}) {
  TempDb db;
  sim::SimConfig c;
  c.clients = 10;
  c.partition = partition;
  c.print_partition = false;
  c.coord.clients = 10;
  c.coord.rounds = rounds;
  c.coord.batch_size = 32;
  c.coord.step_size = lr;
  c.coord.eval_every = rounds;
  c.coord.quiet = true;
  c.coord.db_path = db.path;
  c.coord.round_timeout_ms = 60000;
  c.coord.policy = coord::parse_policy("all");
  REQUIRE(methods::parse_method(method, &c.coord.method.method));
  if (extra) extra(c);
  const sim::SimResult r = sim::run_sim(c, train());
  REQUIRE(r.summary.status == "completed");
  REQUIRE(r.digests_equal == r.clients_checked);
  return r;
}

}  // namespace

TEST_CASE("convergence: signSGD-MV on one class per client (M=10, B=32, lr 0.001, 1000 rounds) reaches 70%") {
  // The papers' non-IID case. With raw [0,1] inputs and +1 votes on exact
  // zeros this run ended at 25%; standardised inputs and sign(0) = 0 give
  // 73.5% here, and the reference lands at the same place.
  const auto r = federate("signsgd", "class1", 0.001f, 1000);
  MESSAGE("signsgd class1 1000 rounds: " << r.summary.final_accuracy);
  CHECK(r.summary.final_accuracy >= 0.70);
}

TEST_CASE("convergence: every method learns IID Fashion-MNIST in 200 rounds") {
  struct Case {
    const char* method;
    float lr;
    double at_least;
    std::function<void(sim::SimConfig&)> extra;
  };
  // Thresholds about 3 points below the reference on the same plan
  // (tools/reference/reference.py run, seed 1): signsgd 79.7 %, signum 83.9 %,
  // s3gd 83.2 %, randk 81.1 %, stochsign 60.8 % (its own random signs: 4
  // points), efsign 83.2 %, fedsgd 80.5 %. signfed here: 80.0, 84.0, 83.2,
  // 81.4, 63.3, 83.1, 81.4 %.
  const Case cases[] = {
      {"signsgd", 0.001f, 0.77, {}},
      {"signum", 0.0001f, 0.81, [](sim::SimConfig& c) { c.coord.method.momentum = 0.9f; }},
      {"s3gd", 0.001f, 0.80, [](sim::SimConfig& c) { c.coord.method.gamma = 0.1f; }},
      {"randk", 0.001f, 0.78, [](sim::SimConfig& c) { c.coord.method.gamma = 0.1f; }},
      {"stochsign", 0.003f, 0.57, {}},
      {"efsign", 0.1f, 0.80, {}},
      {"fedsgd", 0.3f, 0.775, {}},
  };
  for (const Case& k : cases) {
    const std::string method = k.method;
    CAPTURE(method);
    const auto r = federate(k.method, "iid", k.lr, 200, k.extra);
    MESSAGE(method << " iid 200 rounds: " << r.summary.final_accuracy);
    CHECK(r.summary.final_accuracy >= k.at_least);
  }
}

TEST_CASE("convergence: fedavg with 10 local steps reaches 85% on IID within 200 rounds, and --lr is its local rate") {
  auto ten_steps = [](sim::SimConfig& c) { c.coord.local_steps = 10; };
  const auto r = federate("fedavg", "iid", 0.1f, 200, ten_steps);  // the reference: 87.2 %, signfed 87.2 %
  MESSAGE("fedavg iid 10 local steps 200 rounds: " << r.summary.final_accuracy);
  CHECK(r.summary.final_accuracy >= 0.85);
  // The local rate shapes the trajectory (it used to be replaced by 1.0).
  const auto a = federate("fedavg", "iid", 0.1f, 20, ten_steps);
  const auto b = federate("fedavg", "iid", 0.001f, 20, ten_steps);
  CHECK(a.summary.final_digest != b.summary.final_digest);
  CHECK(a.summary.final_accuracy > b.summary.final_accuracy + 0.05);
}

TEST_CASE("convergence: Rosenbrock with exact zeros abstaining (Safaryan Sec. 5.1, nu = 0)") {
  // With sign(0) = +1 every coordinate outside the sampled f_i moved by
  // -gamma each step and f(x_K) reached ~3e8. With abstention the run is plain
  // sign descent on one random f_i per step; an independent NumPy loop gives
  // f(x_1000) = 18.9 +- 0.35 (200 repetitions) at tau = 1 and 1.83 at tau = 4.
  sim::RosenbrockConfig cfg;
  cfg.nu = 0.0;
  cfg.nodes = 1;
  const auto one = sim::run_rosenbrock_reps(cfg, 10, data::mix_seed(1, 1, 0x40));
  MESSAGE("rosenbrock tau=1: " << one.mean.back() << " +- " << one.se.back());
  CHECK(one.mean.back() < 30.0);
  CHECK(one.mean.back() > 10.0);
  cfg.batch = 4;
  const auto four = sim::run_rosenbrock_reps(cfg, 10, data::mix_seed(1, 1, 0x40));
  MESSAGE("rosenbrock tau=4: " << four.mean.back() << " +- " << four.se.back());
  CHECK(four.mean.back() < 9.0);  // below f(x0) = d - 1
  // tau = 1 is a transient, not a plateau: f rises to ~22 by k = 750, crosses
  // f(x0) near k = 1750 and settles at ~1.6 (NumPy: 1.93 at k = 3000).
  cfg.batch = 1;
  cfg.iters = 3000;
  const auto longer = sim::run_rosenbrock_reps(cfg, 10, data::mix_seed(1, 1, 0x40));
  MESSAGE("rosenbrock tau=1, K=3000: " << longer.mean.back() << " +- " << longer.se.back());
  CHECK(longer.mean.back() < 3.0);
  CHECK(longer.mean[1000] > 9.0);
}
