// Every method runs end to end with replicas equal, and the guarded step
// (Safaryan Alg. 1 Option 2, federated) both keeps and rolls back steps.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <SQLiteCpp/Database.h>

#include "core/replica/replay.h"
#include "coordinator/round_log.h"
#include "core/codec/step.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "tests/e2e/federation.h"

using namespace signfed;
using namespace signfed::test;

namespace {

void expect_completed_with_equal_replicas(Federation& f, int rounds) {
  const int rc = f.coordinator->wait(300);
  INFO(f.coordinator->output());
  REQUIRE(rc == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == rounds);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE received != selected") == 0);
  const std::string final_digest = query_text(f.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  for (auto& e : f.edges) {
    INFO(e->output());
    CHECK(e->wait(60) == 0);
    CHECK(coord::digest_hex(edge_final_digest(e->output())) == final_digest);
    CHECK(e->output().find("DIFFERS") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("e2e: every method trains a few rounds with bit-identical replicas") {
  // Each with the flags it uses (a flag a method does not use is refused).
  // Whether they learn is the conformance suite's job (tests/conformance).
  const std::vector<std::vector<std::string>> runs = {
      {"randk", "--gamma", "0.05", "--momentum", "0.9"},
      {"s3gd", "--gamma", "0.05", "--momentum", "0.5"},
      {"stochsign"},
      {"efsign", "--eta", "1"},
      {"fedsgd", "--weighting", "uniform"},
      {"fedavg", "--server-lr", "0.5"},
      {"signum", "--momentum", "0.9"}};
  for (const auto& run : runs) {
    CAPTURE(run[0]);
    Federation f;
    std::vector<std::string> args = {"--rounds", "6", "--method", run[0], "--local-steps", "2", "--lr", "0.01",
                                     "--eval-every", "3", "--round-timeout", "20000"};
    args.insert(args.end(), run.begin() + 1, run.end());
    f.start_coordinator(3, args);
    f.start_edges(3, {"--partition", "dirichlet:0.5"});
    expect_completed_with_equal_replicas(f, 6);
    CHECK(query_number(f.db, "SELECT COUNT(DISTINCT model_digest) FROM rounds") == 6);  // the model moved every round
  }
}

TEST_CASE("e2e: the guarded step rolls back steps that raise the loss and keeps the others") {
  Federation f;
  // A step size that starts far too large and halves every 3 rounds: early
  // steps raise the participants' loss (rolled back), later ones lower it.
  f.start_coordinator(3, {"--rounds", "24", "--method", "signsgd", "--tie", "random", "--lr", "0.5", "--schedule",
                          "halving", "--halve-every", "3", "--guarded-step", "--eval-every", "0", "--round-timeout",
                          "20000", "--checkpoint-every", "3"});
  f.start_edges(3, {});
  expect_completed_with_equal_replicas(f, 24);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE guard_kept = 0") >= 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE guard_kept = 1") >= 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE guard_kept IS NULL") == 0);
  // A rolled-back round leaves the model as it was.
  CHECK(query_number(f.db,
                     "SELECT COUNT(*) FROM rounds r JOIN rounds p ON p.round = r.round - 1 "
                     "WHERE r.guard_kept = 0 AND r.model_digest != p.model_digest") == 0);
  // The vote log: a rolled-back step is logged as not applied, a kept one as applied.
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM results s JOIN rounds r USING(run_id, round) "
                           "WHERE s.applied != r.guard_kept") == 0);
  // Replaying the log from the checkpoint of round 2 over the rolled-back
  // rounds after it reproduces every logged digest (replay_results checks each).
  REQUIRE(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE guard_kept = 0 AND round > 2") >= 1);
  {
    SQLite::Database d(f.db, SQLite::OPEN_READWRITE);
    d.exec("UPDATE runs SET status='interrupted'");
    d.exec("DELETE FROM checkpoints WHERE round > 2");
  }
  coord::RoundLog log(f.db);
  const auto p = log.find_resumable();
  REQUIRE(p.has_value());
  REQUIRE(p->checkpoint.round == 2);
  CHECK(p->last_round == 23);
  const std::uint64_t basis = codec::architecture_basis(model::make_model("mlp", 1)->spec());  // the default model
  REQUIRE(codec::model_digest(p->checkpoint.params, basis) == p->checkpoint.digest);
  std::vector<float> x = p->checkpoint.params;
  core::Replica replica(x, basis);
  CHECK(core::replay_results(replica, p->checkpoint.round, p->last_round, p->results, f.db) == 21);
  CHECK(coord::digest_hex(replica.digest()) == query_text(f.db, "SELECT model_digest FROM rounds WHERE round=23"));
}

#ifdef SIGNFED_FAULTY_EDGE_BIN  // slow clients: signfed-edge-faulty --delay-ms (built with the tools)
TEST_CASE("e2e: --min-clients closes rounds at the quorum and logs the straggler's updates as late") {
  Federation f;
  f.edge_bin = SIGNFED_FAULTY_EDGE_BIN;
  f.start_coordinator(4, {"--rounds", "8", "--method", "signsgd", "--min-clients", "3", "--eval-every", "0",
                          "--round-timeout", "20000"});
  f.start_edges(3, {"--delay-ms", "100"});
  f.start_edge(3, 4, {"--delay-ms", "700"});  // a straggler: 7x the others' work per round
  const int rc = f.coordinator->wait(300);
  INFO(f.coordinator->output());
  REQUIRE(rc == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == 8);
  // Every round closed as soon as the three prompt clients had answered...
  CHECK(query_number(f.db, "SELECT MIN(received) FROM rounds") == 3);
  CHECK(query_number(f.db, "SELECT MAX(ended_at - started_at) FROM rounds") < 0.6);
  // ...and the straggler's updates, when they came, were logged late, never counted.
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE client_id IN (SELECT client_id FROM clients "
                           "WHERE name='edge-3') AND status='counted'") == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE status='late'") >= 1);
  // The straggler still follows the model and ends with the coordinator's digest.
  const std::string final_digest = query_text(f.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  for (auto& e : f.edges) {
    CHECK(e->wait(60) == 0);
    CHECK(coord::digest_hex(edge_final_digest(e->output())) == final_digest);
  }
}
#endif

TEST_CASE("e2e: the shipped signfed-edge has no fault-injection flags") {
  TempDir dir;
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--insecure", "--byzantine", "flip"},
                                              std::vector<std::string>{"--insecure", "--delay-ms", "100"}}) {
    CAPTURE(args[1]);
    Process p(SIGNFED_EDGE_BIN, args, dir.path + "/e.log");
    CHECK(p.wait(30) != 0);
    CHECK(p.output().find("not expected") != std::string::npos);
    CHECK(p.output().find(args[1]) != std::string::npos);
  }
#ifdef SIGNFED_FAULTY_EDGE_BIN
  Process q(SIGNFED_FAULTY_EDGE_BIN, {"--help"}, dir.path + "/f.log");
  CHECK(q.wait(30) == 0);
  CHECK(q.output().find("--byzantine") != std::string::npos);
  CHECK(q.output().find("--delay-ms") != std::string::npos);
  CHECK(q.output().find("--state") != std::string::npos);  // and every production flag
#endif
}

TEST_CASE("e2e: a flag the method does not use is refused with a message, on both CLIs") {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--method", "signsgd", "--momentum", "0.9"}, "--momentum has no effect with --method signsgd"},
      {{"--method", "fedsgd", "--gamma", "0.1"}, "--gamma has no effect with --method fedsgd"},
      {{"--method", "signum", "--eta", "0.5"}, "--eta has no effect with --method signum"},
      {{"--method", "fedsgd", "--server-lr", "2"}, "--server-lr has no effect with --method fedsgd"},
      {{"--method", "s3gd", "--weighting", "uniform"}, "--weighting has no effect with --method s3gd"},
      {{"--method", "fedavg", "--tie", "random"}, "--tie has no effect with --method fedavg"},
      {{"--halve-every", "50"}, "--halve-every has no effect without --schedule halving"},
      {{"--eval-every", "0", "--test-limit", "100"}, "--test-limit has no effect with --eval-every 0"},
  };
  int k = 0;
  for (const Case& c : cases) {
    CAPTURE(c.says);
    std::vector<std::string> coord = {"--insecure", "--rounds", "1", "--db", dir.path + "/x.sqlite"};
    coord.insert(coord.end(), c.args.begin(), c.args.end());
    Process p(SIGNFED_COORDINATOR_BIN, coord, dir.path + "/c" + std::to_string(k) + ".log");
    CHECK(p.wait(30) == 2);
    CHECK(p.output().find(c.says) != std::string::npos);
#ifdef SIGNFED_SIM_BIN  // built with the tools
    std::vector<std::string> sim = {"--rounds", "1", "--db", dir.path + "/s.sqlite"};
    sim.insert(sim.end(), c.args.begin(), c.args.end());
    Process q(SIGNFED_SIM_BIN, sim, dir.path + "/s" + std::to_string(k) + ".log");
    CHECK(q.wait(30) == 2);
    CHECK(q.output().find(c.says) != std::string::npos);
#endif
    ++k;
  }
}
