// The aggregation tree end to end: the exactness of relays (flat = one tier =
// two tiers, bit-identical model digests, every method) through the
// in-process simulator (real Coordinator, Relays and EdgeClients over
// inproc://), and the real binaries on tcp loopback with CURVE.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "net/curve.h"
#include "tests/e2e/federation.h"
#include "tests/e2e/process.h"
#include "tests/support/sql_query.h"
#include "tests/support/temp_db.h"
#include "tools/sim/sim.h"

using namespace signfed;
using namespace signfed::test;

namespace {

const std::shared_ptr<const data::Dataset>& train() {
  static const std::shared_ptr<const data::Dataset> t = sim::load_train(sim::SimConfig{});
  return t;
}

struct Method {
  const char* name;
  wire::Method method;
  float gamma = 1.0f, momentum = 0.0f;
  wire::TieRule tie = wire::TieRule::zero;
  methods::Weighting weighting = methods::Weighting::samples;
  double clip = 0.0;
};

// Every method, with the options that make its server side do something a
// sum of tallies could get wrong: random tie-breaks (seeded per round),
// momentum, sparse supports, sample weighting over unequal shards, clipping.
const Method kMethods[] = {
    {"signsgd", wire::Method::signsgd, 1.0f, 0.0f, wire::TieRule::random},
    {"signum", wire::Method::signum, 1.0f, 0.9f},
    {"s3gd", wire::Method::s3gd, 0.05f},
    {"randk", wire::Method::randk, 0.05f, 0.5f},
    {"stochsign", wire::Method::stochsign},
    {"efsign", wire::Method::efsign, 1.0f, 0.0f, wire::TieRule::zero, methods::Weighting::uniform},
    {"fedsgd", wire::Method::fedsgd, 1.0f, 0.0f, wire::TieRule::zero, methods::Weighting::samples, 0.5},
    {"fedavg", wire::Method::fedavg},
};

// The run's final model digest, the counted rows per leaf client and, per
// evaluated round, the federated evaluation ("round samples loss accuracy").
struct Outcome {
  std::uint64_t digest = 0;
  double leaf_rows = 0, relays = 0;
  std::string fed;
};

Outcome run(const Method& m, std::vector<std::uint32_t> relays, std::uint32_t eval_every = 0) {
  TempDb db("relay.sqlite");
  sim::SimConfig c;
  c.clients = 6;
  c.partition = "dirichlet:0.5";  // unequal shards: sample weighting matters
  c.relays = std::move(relays);
  c.print_partition = false;
  c.coord.clients = 6;
  c.coord.rounds = 4;
  c.coord.model = "mlp:784-16-10";
  c.coord.db_path = db.path;
  c.coord.eval_every = eval_every;
  c.holdout = eval_every > 0 ? 0.1 : 0.0;
  c.coord.quiet = true;
  c.coord.method.method = m.method;
  c.coord.method.gamma = m.gamma;
  c.coord.method.momentum = m.momentum;
  c.coord.method.tie_rule = m.tie;
  c.coord.weighting = m.weighting;
  c.coord.aggregate.clip = m.clip;
  if (m.method == wire::Method::fedavg) {
    c.coord.local_steps = 2;
    c.coord.step_size = 0.05f;
  }
  const sim::SimResult r = sim::run_sim(c, train());
  REQUIRE(r.summary.status == "completed");
  CHECK(r.digests_equal == 6);
  Outcome o;
  o.digest = r.summary.final_digest;
  o.leaf_rows = query_number(db.path, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) "
                                      "WHERE c.platform != 'relay' AND u.status='counted'");
  o.relays = query_number(db.path, "SELECT COUNT(*) FROM clients WHERE platform='relay'");
  // Rounded to 12 digits: the coordinator divides the relays' sums where the
  // flat run divides each client's, so the means may differ in the last bits.
  o.fed = query_text(db.path, "SELECT group_concat(round || ' ' || fed_samples || ' ' || printf('%.12g %.12g', fed_loss, "
                              "fed_accuracy), '; ') FROM (SELECT * FROM rounds WHERE fed_samples IS NOT NULL ORDER BY round)");
  return o;
}

}  // namespace

TEST_CASE("relay: flat, one tier and two tiers give bit-identical model digests for every method") {
  for (const Method& m : kMethods) {
    const std::string method = m.name;
    CAPTURE(method);
    const Outcome flat = run(m, {});
    const Outcome one = run(m, {2});
    const Outcome two = run(m, {2, 3});
    CHECK(flat.digest == one.digest);
    CHECK(flat.digest == two.digest);
    // The log has a counted row per client per round whichever the layout, and the relays marked.
    CHECK(flat.leaf_rows == 24);
    CHECK(one.leaf_rows == 24);
    CHECK(two.leaf_rows == 24);
    CHECK(one.relays == 2);
    CHECK(two.relays == 2);  // the upper tier; the lower relays are their clients
  }
}

TEST_CASE("relay: federated evaluation through one and two tiers of relays is the flat run's, round by round") {
  // Each relay sums its children's hold-out reports into one; the
  // coordinator's sample-weighted fed_loss and fed_accuracy must not move.
  const Method& m = kMethods[0];
  const Outcome flat = run(m, {}, 2);
  const Outcome one = run(m, {2}, 2);
  const Outcome two = run(m, {2, 3}, 2);
  INFO("flat: " << flat.fed);
  REQUIRE(flat.fed.find("1 ") == 0);  // rounds 1 and 3 evaluated
  REQUIRE(flat.fed.find("; 3 ") != std::string::npos);
  CHECK(one.fed == flat.fed);
  CHECK(two.fed == flat.fed);
}

TEST_CASE("relay: signfed-coordinator, 2 signfed-relay and 4 signfed-edge on tcp with CURVE end on the flat digest") {
  // s3gd (a sparse vote tally) and fedsgd on the default MLP (a mean tally:
  // about 9 bytes a coordinate, twice the float32 update the coordinator's
  // frame cap was once sized for: its TallyUpdate was dropped).
  for (const std::string method : {"s3gd", "fedsgd"}) {
  CAPTURE(method);
  std::vector<std::string> run_args = {"--rounds", "3", "--eval-every", "0", "--method", method};
  if (method == "s3gd") run_args.insert(run_args.end(), {"--gamma", "0.05", "--model", "mlp:784-16-10"});
  else run_args.insert(run_args.end(), {"--lr", "0.05", "--model", "mlp"});
  const std::vector<std::string> edge_args = {"--partition", "dirichlet:0.5", "--rejoin-after", "2000"};
  Federation flat;
  flat.make_keys(4, 4);
  flat.start_coordinator(4, run_args);
  flat.start_edges(4, edge_args);
  flat.require_coordinator_success(120);
  const std::string want = query_text(flat.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  REQUIRE(want.size() == 16);

  // The tree: edges 0, 2 behind relay-0, edges 1, 3 behind relay-1. The
  // coordinator lists the relays' keys; each relay lists its edges' keys.
  Federation tree;
  tree.make_keys(4, 0);
  std::string coord_allow;
  std::vector<std::string> relay_allow(2);
  for (int r = 0; r < 2; ++r) {
    const auto k = curve::generate();
    curve::write_key_pair(tree.dir.path + "/relay-" + std::to_string(r), k, true);
    coord_allow += k.public_key + "  relay-" + std::to_string(r) + "\n";
  }
  for (int i = 0; i < 4; ++i) {
    const std::string key = curve::read_key_file(tree.dir.path + "/edge-" + std::to_string(i) + ".pub");
    relay_allow[i % 2] += key + "  edge-" + std::to_string(i) + "\n";
  }
  std::ofstream(tree.dir.path + "/clients.allow") << coord_allow;
  tree.start_coordinator(4, run_args);
  std::vector<std::unique_ptr<Process>> relays;
  std::vector<std::string> relay_endpoints;
  for (int r = 0; r < 2; ++r) {
    const std::string base = tree.dir.path + "/relay-" + std::to_string(r);
    std::ofstream(base + ".allow") << relay_allow[r];
    relay_endpoints.push_back("tcp://127.0.0.1:" + std::to_string(free_tcp_port()));
    relays.push_back(std::make_unique<Process>(
        SIGNFED_RELAY_BIN,
        std::vector<std::string>{"--parent", tree.endpoint, "--bind", relay_endpoints.back(), "--name",
                                 "relay-" + std::to_string(r), "--clients", "2", "--key", base + ".key",
                                 "--parent-key", tree.dir.path + "/coordinator.pub", "--allow", base + ".allow"},
        base + ".log"));
  }
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string> args = {"--connect", relay_endpoints[i % 2], "--client-index", std::to_string(i),
                                     "--num-clients", "4", "--key", tree.dir.path + "/edge-" + std::to_string(i) + ".key",
                                     "--server-key", tree.dir.path + "/relay-" + std::to_string(i % 2) + ".pub"};
    args.insert(args.end(), edge_args.begin(), edge_args.end());
    tree.edges.push_back(std::make_unique<Process>(SIGNFED_EDGE_BIN, args,
                                                   tree.dir.path + "/edge-" + std::to_string(i) + ".log"));
  }
  tree.require_coordinator_success(120);
  CHECK(query_text(tree.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1") == want);
  tree.check_edges_final_model();
  for (auto& r : relays) {
    INFO(r->output());
    CHECK(r->wait(30) == 0);
  }
  CHECK(query_number(tree.db, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) "
                              "WHERE c.platform != 'relay' AND u.status='counted'") == 12);
  }
}

TEST_CASE("relay: kill -9 a relay mid-run - its clients fail over to the coordinator, no counted update lost after, and a restarted relay resyncs") {
  // Plaintext: the failover is the point here (CURVE is the test above).
  // Deadlines with room for a loaded CI machine (one round short of a client
  // at load ~30 with a 3 s deadline and 1 s rejoin): a round ends when its
  // four updates are in, so only the rounds around the kill wait them out.
  Federation f;
  f.start_coordinator(4, {"--rounds", "40", "--model", "mlp:784-16-10", "--eval-every", "0", "--round-timeout",
                          "6000", "--dead-after", "5000"});
  std::vector<std::string> relay_endpoints;
  std::vector<std::unique_ptr<Process>> relays(2);
  auto start_relay = [&](int r) {
    relays[r] = std::make_unique<Process>(
        SIGNFED_RELAY_BIN,
        std::vector<std::string>{"--parent", f.endpoint, "--bind", relay_endpoints[r], "--name",
                                 "relay-" + std::to_string(r), "--clients", "2", "--insecure"},
        f.dir.path + "/relay-" + std::to_string(r) + "-" + std::to_string(relays[r] ? 1 : 0) + ".log");
  };
  for (int r = 0; r < 2; ++r) {
    relay_endpoints.push_back("tcp://127.0.0.1:" + std::to_string(free_tcp_port()));
    start_relay(r);
  }
  // Slow edges (100 ms a round) so that the kill lands mid-run; each lists its relay, then the coordinator.
  for (int i = 0; i < 4; ++i)
    f.edges.push_back(std::make_unique<Process>(
        SIGNFED_FAULTY_EDGE_BIN,
        std::vector<std::string>{"--connect", relay_endpoints[i % 2] + "," + f.endpoint, "--client-index",
                                 std::to_string(i), "--num-clients", "4", "--insecure", "--delay-ms", "100",
                                 "--rejoin-after", "2500"},
        f.dir.path + "/edge-" + std::to_string(i) + ".log"));
  REQUIRE(wait_until(60, [&] { return query_number(f.db, "SELECT COUNT(*) FROM rounds") >= 5; }));
  relays[0]->signal(SIGKILL);
  const double killed_at = query_number(f.db, "SELECT MAX(round) FROM rounds");
  // Its clients (edges 0 and 2) join the coordinator directly; then the relay comes back.
  REQUIRE(wait_until(30, [&] {
    return query_number(f.db, "SELECT COUNT(*) FROM clients WHERE name IN ('edge-0', 'edge-2') AND data_desc NOT "
                              "LIKE 'via relay%'") == 2;
  }));
  start_relay(0);
  f.require_coordinator_success(180);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == 40);
  // From the first round after the kill in which all four counted, every round counts all four.
  const double back = query_number(f.db, "SELECT MIN(round) FROM rounds WHERE received=4 AND round > " +
                                             std::to_string(killed_at));
  INFO("killed after round " << killed_at << ", all four counted again from round " << back);
  CHECK(back < 40);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE received < 4 AND round >= " + std::to_string(back)) == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) WHERE "
                           "c.platform != 'relay' AND u.status='counted' AND u.round >= " + std::to_string(back)) ==
        4 * (40 - back));
  f.check_edges_final_model();
  INFO(relays[0]->output());
  CHECK(relays[0]->wait(30) == 0);
  CHECK(relays[0]->output().find("resynced from the parent's snapshot") != std::string::npos);
  CHECK(relays[1]->wait(30) == 0);
}
