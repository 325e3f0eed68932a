// In-process simulations with the real coordinator and edge clients on
// Fashion-MNIST (Debian's dataset-fashion-mnist): completion and digests,
// virtual time accounting, straggler admission per policy, faults, and the
// report generated from the log.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/data/rng.h"
#include "core/model/model.h"
#include "core/kernels/sign_kernels.h"
#include "tools/sim/fleet.h"
#include "tools/sim/sim.h"
#include "tests/support/sql_query.h"
#include "tests/support/temp_db.h"

using namespace signfed;
using test::TempDb;

namespace {


double q(const std::string& db, const std::string& sql) { return test::query_number(db, sql); }

const std::shared_ptr<const data::Dataset>& train() {
  static const std::shared_ptr<const data::Dataset> t = [] {
    sim::SimConfig c;
    return sim::load_train(c);
  }();
  return t;
}

sim::SimConfig tiny(const std::string& db, std::uint32_t clients, std::uint32_t rounds) {
  sim::SimConfig c;
  c.clients = clients;
  c.coord.clients = clients;
  c.coord.rounds = rounds;
  c.coord.db_path = db;
  c.coord.eval_every = 0;
  c.coord.quiet = true;
  c.coord.tag = "test seed=1";
  c.print_partition = false;
  return c;
}

}  // namespace

TEST_CASE("a tiny in-process run completes with every client's digest equal to the coordinator's") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 20, 5);
  c.partition = "dirichlet:0.5";
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.summary.status == "completed");
  CHECK(r.summary.rounds_done == 5);
  CHECK(r.clients_checked == 20);
  CHECK(r.digests_equal == 20);
  CHECK(q(t.path, "SELECT COUNT(*) FROM rounds") == 5);
  CHECK(q(t.path, "SELECT COUNT(*) FROM sim_clients") == 20);
  CHECK(q(t.path, "SELECT SUM(samples) FROM sim_clients") == 60000);
  CHECK(q(t.path, "SELECT COUNT(*) FROM updates WHERE status='counted'") == 100);
}

TEST_CASE("clients rebuild the coordinator's initial model from Welcome: --init torch, inputs standardised") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 3, 2);
  c.coord.init = model::Init::torch;
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.digests_equal == 3);
  // Nobody needed a snapshot: every client rebuilt the same initial model.
  CHECK(q(t.path, "SELECT SUM(snapshot_bytes) FROM rounds") == 0);
  // runs.config stores what the run used, statistics included.
  CHECK(q(t.path, "SELECT json_extract(config, '$.init') = 'torch' FROM runs") == 1);
  CHECK(q(t.path, "SELECT json_extract(config, '$.input_mean') FROM runs") == doctest::Approx(0.2860).epsilon(1e-3));
  CHECK(q(t.path, "SELECT json_extract(config, '$.input_std') FROM runs") == doctest::Approx(0.3530).epsilon(1e-3));
}

TEST_CASE("virtual time: a round lasts the slowest counted client's modelled latency") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 4, 3);
  c.coord.virtual_time = true;
  c.coord.policy = coord::parse_policy("all");
  c.fleet.ms_per_sample = 0.5;
  c.fleet.speed_sigma = 0.4;  // distinct speeds
  const sim::SimResult r = sim::run_sim(c, train());
  REQUIRE(r.summary.status == "completed");
  const auto prof = sim::make_profiles(c.fleet, 4, c.coord.seed);
  const std::size_t down = kernels::packed_bytes(101770) + sim::kEnvelopeBytes;  // dense signs of the default MLP
  double total = 0;
  for (std::uint32_t round = 0; round < 3; ++round) {
    double worst = 0;
    for (std::uint32_t k = 0; k < 4; ++k) {
      const std::string row = " FROM updates WHERE round=" + std::to_string(round) +
                              " AND client_id IN (SELECT client_id FROM clients WHERE name='sim-" + std::to_string(k) + "')";
      // Uplink payloads vary (exact zeros abstain, runs_sign is smaller than 1 bit a coordinate).
      const auto payload = static_cast<std::size_t>(q(t.path, "SELECT payload_bytes" + row));
      CAPTURE(payload);
      REQUIRE(payload > 0);
      const double ms = sim::round_latency_ms(prof[k], 32, payload + sim::kEnvelopeBytes, down);
      worst = std::max(worst, ms);
      // Each update's logged latency is the client's simulated one (sent as float).
      CHECK(q(t.path, "SELECT latency_ms" + row) == doctest::Approx(ms).epsilon(1e-5));
    }
    total += worst;
  }
  CHECK(q(t.path, "SELECT virtual_time_s FROM rounds WHERE round=2") == doctest::Approx(total / 1000.0).epsilon(1e-5));
}

TEST_CASE("straggler admission in the simulator: which updates count under each policy") {
  // 10 clients, 2 of them 100x slower: fast ~ 82 ms, slow ~ 3.2 s per round.
  auto run = [&](const std::string& policy, std::uint32_t timeout_ms, const std::string& db) {
    sim::SimConfig c = tiny(db, 10, 4);
    c.coord.virtual_time = true;
    c.coord.policy = coord::parse_policy(policy);
    c.coord.round_timeout_ms = timeout_ms;
    c.fleet.ms_per_sample = 1.0;
    sim::parse_slow("0.2:100", c.fleet);
    const sim::SimResult r = sim::run_sim(c, train());
    REQUIRE(r.summary.status == "completed");
    CHECK(r.digests_equal == 10);
  };
  auto counted = [](const std::string& db, int round) {
    return q(db, "SELECT COUNT(*) FROM updates WHERE status='counted' AND round=" + std::to_string(round));
  };
  auto late = [](const std::string& db, int round) {
    return q(db, "SELECT COUNT(*) FROM updates WHERE status='late' AND round=" + std::to_string(round));
  };
  SUBCASE("all: every update counts; a round lasts the slowest client") {
    TempDb t("sim.sqlite");
    run("all", 10000, t.path);
    for (int r = 0; r < 4; ++r) CHECK(counted(t.path, r) == 10);
    CHECK(q(t.path, "SELECT virtual_time_s FROM rounds WHERE round=0") > 3.0);
  }
  SUBCASE("deadline 1 s: the two slow clients are late every round") {
    TempDb t("sim.sqlite");
    run("deadline", 1000, t.path);
    for (int r = 0; r < 4; ++r) {
      CHECK(counted(t.path, r) == 8);
      CHECK(late(t.path, r) == 2);
    }
    CHECK(q(t.path, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) JOIN sim_clients s "
                    "ON s.run_id=u.run_id AND 'sim-' || s.client = c.name WHERE u.status='late' AND s.slow=0") == 0);
    // The coordinator waited for the slow ones until the deadline: 1 s per round.
    CHECK(q(t.path, "SELECT virtual_time_s FROM rounds WHERE round=3") == doctest::Approx(4.0));
  }
  SUBCASE("overselect:3 keeps the 7 fastest") {
    TempDb t("sim.sqlite");
    run("overselect:3", 10000, t.path);
    for (int r = 0; r < 4; ++r) CHECK(counted(t.path, r) == 7);
  }
  SUBCASE("adaptive:0.5: everyone until there is history, then the slow ones are late") {
    TempDb t("sim.sqlite");
    run("adaptive:0.5", 10000, t.path);
    CHECK(counted(t.path, 0) == 10);
    for (int r = 1; r < 4; ++r) CHECK(counted(t.path, r) == 8);
  }
}

TEST_CASE("faults: dropout and crash-and-rejoin") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 5, 6);
  c.coord.round_timeout_ms = 400;
  c.coord.policy = coord::parse_policy("deadline");
  c.faults.dropout = 0.2;
  c.faults.crashes = sim::parse_crashes("2@2");
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.summary.status == "completed");
  CHECK(r.crashes == 1);
  CHECK(r.clients_checked == 5);
  CHECK(r.digests_equal == 5);  // the re-created client caught up by snapshot
  const double counted = q(t.path, "SELECT COUNT(*) FROM updates WHERE status='counted'");
  CHECK(counted < 30);
  CHECK(counted > 10);
}

TEST_CASE("momentum: a round without counted updates leaves every replica's momentum as the coordinator's") {
  // The coordinator applies nothing in such a round; a client that applied the
  // zero signs with mu = 0 reset its momentum and needed a snapshot next round.
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 2, 30);
  c.coord.method.method = wire::Method::signum;
  c.coord.method.momentum = 0.9f;
  c.coord.round_timeout_ms = 400;
  c.coord.policy = coord::parse_policy("deadline");
  c.faults.dropout = 0.6;
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.summary.status == "completed");
  // The run has empty rounds between moving ones, else it tests nothing.
  REQUIRE(q(t.path, "SELECT COUNT(*) FROM rounds WHERE received = 0 AND round > 0") >= 3);
  REQUIRE(q(t.path, "SELECT COUNT(*) FROM results WHERE applied = 1 AND round > 0") >= 3);
  CHECK(q(t.path, "SELECT SUM(snapshot_bytes) FROM rounds WHERE round > 0") == 0);
  CHECK(r.digests_equal == 2);
}

TEST_CASE("fedavg with partial participation: a client that resyncs before its task still trains at the local rate") {
  // A client first selected after round 0 fetches a snapshot before it runs
  // the task; the task it keeps for then must carry MethodParams.local_lr.
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 10, 4);
  c.coord.method.method = wire::Method::fedavg;
  c.coord.step_size = 0.05f;
  c.coord.fraction = 0.7;
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.summary.status == "completed");
  REQUIRE(q(t.path, "SELECT SUM(snapshot_bytes) FROM rounds WHERE round > 0") > 0);  // somebody resynced
  CHECK(q(t.path, "SELECT COUNT(*) FROM updates WHERE status = 'counted'") == q(t.path, "SELECT SUM(selected) FROM rounds"));
  CHECK(r.digests_equal == 10);
}

TEST_CASE("a selected client that crashes and rejoins while its round is open is sent the task again") {
  // The crashed client's task went to its old connection. Without a resend on
  // rejoin the round waited for its deadline (2 s here) and lost the client's
  // vote in about one crash of three, depending on which side won the race.
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 6, 8);
  c.coord.round_timeout_ms = 2000;
  c.coord.policy = coord::parse_policy("deadline");
  c.faults.crashes = sim::parse_crashes("0@1,1@2,2@3,3@4,4@5,5@6");
  const sim::SimResult r = sim::run_sim(c, train());
  CHECK(r.summary.status == "completed");
  CHECK(r.crashes == 6);
  CHECK(r.digests_equal == 6);
  CHECK(q(t.path, "SELECT COUNT(*) FROM updates WHERE status='counted'") == 48);
  CHECK(q(t.path, "SELECT MAX(ended_at - started_at) FROM rounds") < 1.0);
}

TEST_CASE("SPB probe rows are logged and fail the SPB condition on one class per client") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 10, 2);
  c.partition = "class1";
  c.spb_every = 1;
  const sim::SimResult r = sim::run_sim(c, train());
  REQUIRE(r.spb.size() == 2);
  CHECK(q(t.path, "SELECT COUNT(*) FROM spb") == 2);
  CHECK(r.spb[0].frac_le_half > 0.2);
  CHECK(r.spb[0].rho_m_norm <= r.spb[0].l1);
}

TEST_CASE("signfed-report writes an HTML page with the plots from a small log") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 4, 6);
  c.coord.eval_every = 2;
  c.coord.test_limit = 500;
  c.spb_every = 3;
  for (std::uint64_t seed : {1u, 2u}) {
    c.coord.seed = seed;
    c.coord.tag = "test seed=" + std::to_string(seed);
    c.holdout = seed == 2 ? 0.2 : 0.0;  // one run with federated evaluation, one without
    REQUIRE(sim::run_sim(c, train()).summary.status == "completed");
  }
  CHECK(q(t.path, "SELECT COUNT(*) FROM client_evals WHERE run_id=1") == 0);
  CHECK(q(t.path, "SELECT COUNT(*) FROM client_evals WHERE run_id=2") == 4 * 3);  // rounds 1, 3, 5
  const std::string out = t.dir + "/report";
  const std::string cmd = std::string("/usr/bin/python3 ") + SIGNFED_REPORT_SCRIPT + " " + t.path + " --out " + out +
                          " --target 0.3 > " + t.dir + "/report.log 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream f(out + "/report.html");
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string html = ss.str();
  std::size_t imgs = 0;
  for (auto p = html.find("data:image/png;base64,"); p != std::string::npos; p = html.find("data:image/png;base64,", p + 1))
    ++imgs;
  CHECK(imgs >= 5);
  CHECK(html.find("mean") != std::string::npos);
  CHECK(std::filesystem::exists(out + "/accuracy_vs_round.png"));
  CHECK(std::filesystem::exists(out + "/accuracy_vs_round.svg"));
  CHECK(html.find("Federated evaluation") != std::string::npos);
  CHECK(std::filesystem::exists(out + "/federated_accuracy.png"));
}

TEST_CASE("an exported plan describes the run: layers of a deeper MLP, gamma after auto, every minibatch") {
  TempDb t("sim.sqlite");
  sim::SimConfig c = tiny(t.path, 4, 3);
  c.coord.model = "mlp:784-64-32-10";
  c.coord.method.method = wire::Method::s3gd;
  c.coord.gamma_auto = true;
  c.coord.policy = coord::parse_policy("all");
  c.export_plan_dir = t.dir + "/plan";
  c.trace_rounds = 2;
  const sim::SimResult r = sim::run_sim(c, train());
  REQUIRE(r.summary.status == "completed");
  std::ifstream f(c.export_plan_dir + "/plan.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string plan = ss.str();
  CHECK(plan.find("\"layers\": [\n  784,\n  64,\n  32,\n  10\n ]") != std::string::npos);
  CHECK(plan.find("\"gamma\": 0.39685") != std::string::npos);  // 4^(-2/3): the gamma the run used
  // batches.npy: uint32 [M=4, R=3, S=1, B=32] after a 128-byte header.
  CHECK(std::filesystem::file_size(c.export_plan_dir + "/batches.npy") == 128 + 4 * 3 * 1 * 32 * 4);
  CHECK(std::filesystem::exists(c.export_plan_dir + "/trace/params_r1.npy"));
  CHECK_FALSE(std::filesystem::exists(c.export_plan_dir + "/trace/params_r2.npy"));
}

TEST_CASE("--processes: the real binaries get only the flags their method uses, and finish with equal digests") {
  TempDb t("sim.sqlite");
  for (const char* method : {"s3gd", "fedavg", "signsgd"}) {
    CAPTURE(std::string(method));
    sim::SimConfig c = tiny(t.path, 3, 3);
    c.processes = true;
    c.coordinator_bin = SIGNFED_COORDINATOR_BIN;
    c.edge_bin = SIGNFED_EDGE_BIN;
    c.log_dir = t.dir;
    c.coord.eval_every = 3;
    REQUIRE(methods::parse_method(method, &c.coord.method.method));
    const sim::SimResult r = sim::run_sim(c, train());
    CHECK(r.summary.status == "completed");
    CHECK(r.digests_equal == 3);
    // The summary is read back from the coordinator's log.
    CHECK(r.summary.final_accuracy ==
          q(t.path, "SELECT test_accuracy FROM rounds WHERE round=2 AND run_id=" + std::to_string(r.summary.run_id)));
    CHECK(r.summary.final_accuracy > 0.1);
  }
}

TEST_CASE("--processes: the coordinator process runs with the very configuration of the in-process run") {
  // The configuration travels as one --config file (runs.config's JSON), so a
  // setting added to the config cannot be forgotten by the process mode.
  TempDb t("in.sqlite"), u("proc.sqlite");
  auto config_of = [&](bool processes, const std::string& db) {
    sim::SimConfig c = tiny(db, 3, 2);
    c.coord.method.method = wire::Method::fedavg;
    c.coord.server_lr = 0.5f;
    c.coord.weighting = coord::Weighting::uniform;
    c.coord.guarded_step = true;
    c.coord.checkpoint_every = 1;
    c.coord.policy = coord::parse_policy("adaptive:0.975");
    c.coord.init = model::Init::torch;
    c.coord.local_steps = 2;
    c.coord.fraction = 0.9;
    if (processes) {
      c.processes = true;
      c.coordinator_bin = SIGNFED_COORDINATOR_BIN;
      c.edge_bin = SIGNFED_EDGE_BIN;
      c.log_dir = u.dir;
    }
    const sim::SimResult r = sim::run_sim(c, train());
    CHECK(r.summary.status == "completed");
    return test::query_text(db, "SELECT config FROM runs");
  };
  const std::string in = config_of(false, t.path), proc = config_of(true, u.path);
  CHECK(in.find("\"policy\":\"adaptive:0.975\"") != std::string::npos);
  CHECK(in.find("\"guarded_step\":true") != std::string::npos);
  CHECK(proc == in);
}

TEST_CASE("--data FILE: one CSV file partitioned between in-process clients, with a model file and a CSV test set") {
  TempDb t("sim.sqlite");
  const std::string dir = t.path.substr(0, t.path.rfind('/'));
  // 4 features, 3 classes; label = the largest of the first three features.
  const auto write = [&](const std::string& path, int rows, std::uint64_t seed) {
    data::Rng rng(seed);
    std::ofstream out(path);
    out << "a,b,c,d,target\n";
    for (int i = 0; i < rows; ++i) {
      const double a = rng.uniform(), b = rng.uniform(), c = rng.uniform(), d = rng.uniform();
      out << a << "," << b << "," << c << "," << d << "," << (a > b && a > c ? 0 : b > c ? 1 : 2) << "\n";
    }
  };
  write(dir + "/train.csv", 900, 1);
  write(dir + "/test.csv", 300, 2);
  sim::SimConfig c = tiny(t.path, 3, 60);
  c.partition = "iid";
  c.train_file.path = dir + "/train.csv";
  c.coord.model = model::load_model_argument(
      R"({"input": [4], "layers": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense", "units": 3}],
          "loss": "softmax_cross_entropy"})");
  c.coord.standardise = false;
  c.coord.test_file = dir + "/test.csv";
  c.coord.eval_every = 60;
  c.coord.step_size = 0.01f;
  const sim::SimResult r = sim::run_sim(c, sim::load_train(c));
  CHECK(r.summary.status == "completed");
  CHECK(r.digests_equal == 3);
  CHECK(q(t.path, "SELECT SUM(samples) FROM sim_clients") == 900);
  MESSAGE("4-feature CSV, 3 clients, 60 rounds: central test accuracy " << r.summary.final_accuracy);
  CHECK(r.summary.final_accuracy >= 0.8);
}

TEST_CASE("clients sharing one replica end at the digests of clients with their own replicas") {
  // The shared replica (edge/shared_replica.h) must change nothing but
  // memory: per-client state (error memory, minibatch sequence, dropout
  // masks), the guarded step's roll-back, fedavg's local steps, a crash
  // resynced by snapshot, federated evaluation on a hold-out and partial
  // participation all give the bits of the unshared simulator.
  struct Case {
    const char* name;
    void (*set)(sim::SimConfig&);
  };
  const Case cases[] = {
      {"signsgd", [](sim::SimConfig&) {}},
      {"s3gd (error memory)",
       [](sim::SimConfig& c) {
         c.coord.method.method = wire::Method::s3gd;
         c.coord.method.gamma = 0.1f;
       }},
      {"efsign (error memory), half the clients per round",
       [](sim::SimConfig& c) {
         c.coord.method.method = wire::Method::efsign;
         c.coord.step_size = 0.1f;
         c.coord.fraction = 0.5;
       }},
      {"fedavg, 3 local steps",
       [](sim::SimConfig& c) {
         c.coord.method.method = wire::Method::fedavg;
         c.coord.step_size = 0.05f;
         c.coord.local_steps = 3;
       }},
      {"guarded step",
       [](sim::SimConfig& c) {
         c.coord.guarded_step = true;
         c.coord.step_size = 0.003f;
       }},
      {"signum, a crash resynced by snapshot, dropout, hold-out evaluation",
       [](sim::SimConfig& c) {
         c.coord.method.method = wire::Method::signum;
         c.coord.method.momentum = 0.5f;
         c.faults.crashes = sim::parse_crashes("1@2");
         c.faults.dropout = 0.3;
         c.holdout = 0.1;
         c.coord.eval_every = 2;
       }},
      {"a model with a dropout layer",
       [](sim::SimConfig& c) {
         c.coord.model = R"({"input":[784],"layers":[{"type":"dense","units":16},{"type":"dropout","rate":0.3},)"
                         R"({"type":"relu"},{"type":"dense","units":10}],"loss":"softmax_cross_entropy"})";
       }},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    std::uint64_t digest[2] = {0, 0};
    for (const bool share : {true, false}) {
      TempDb t("sim.sqlite");
      sim::SimConfig c = tiny(t.path, 5, 5);
      c.coord.model = "mlp:784-16-10";
      c.coord.round_timeout_ms = 3000;
      k.set(c);
      c.share = share;
      const sim::SimResult r = sim::run_sim(c, train());
      REQUIRE(r.summary.status == "completed");
      CHECK(r.clients_checked == 5);
      CHECK(r.digests_equal == 5);
      digest[share] = r.summary.final_digest;
    }
    CHECK(digest[0] == digest[1]);
  }
}
