// signfed-sim --mpi under mpirun against the in-process signfed-sim with the
// same flags: bit-identical model digests every round (ranks reduce exact
// integer tallies, tools/sim/mpi_tally.h), the coordinator's log on rank 0,
// and the options MPI cannot honour refused. Runs as root too (CI does):
// mpirun then needs --allow-run-as-root.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/process.h"

using namespace signfed;
using test::Process;
using test::TempDir;

namespace {

std::vector<std::string> mpirun_args(int ranks) {
  std::vector<std::string> a = {"-np", std::to_string(ranks), "--oversubscribe"};
  if (::geteuid() == 0) a.push_back("--allow-run-as-root");
  a.push_back(SIGNFED_SIM_BIN);
  a.push_back("--mpi");
  return a;
}

struct Ran {
  int rc = -1;
  std::string output;
};

// Runs signfed-sim (ranks 0: in-process, no MPI) into db.
Ran run_sim(int ranks, const std::vector<std::string>& flags, const std::string& db, const std::string& log) {
  std::vector<std::string> args = ranks > 0 ? mpirun_args(ranks) : std::vector<std::string>{};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"--db", db, "--quiet"});
  Process p(ranks > 0 ? MPIEXEC_BIN : SIGNFED_SIM_BIN, args, log);
  Ran r{p.wait(180), ""};
  r.output = p.output();
  return r;
}

// Exit code 0: completed, and every client's replica ended on the coordinator's digest.
bool ok(const Ran& r) {
  if (r.rc != 0) MESSAGE(r.output);
  return r.rc == 0;
}

// Every round's digest and counted updates, in round order.
std::string rounds_of(const std::string& db) {
  return test::query_text(db, "SELECT group_concat(model_digest || '/' || received, ',') FROM "
                              "(SELECT model_digest, received FROM rounds ORDER BY round)");
}

}  // namespace

TEST_CASE("mpi: 2 or 4 ranks give the in-process simulator's model digests, every method") {
  TempDir dir;
  struct Case {
    const char* name;
    std::vector<std::string> flags;
  };
  // --fraction 0.7: rank 0 selects as the coordinator does. Each method at 2
  // or 4 ranks in turn (both counts for the vote and the mean families: the
  // CI budget), tools/bench/sim_mpi.sh for 1, 2 and 4 at scale.
  const std::vector<Case> cases = {
      {"signsgd", {"--method", "signsgd", "--tie", "random"}},
      {"signum", {"--method", "signum", "--momentum", "0.9"}},
      {"s3gd", {"--method", "s3gd", "--gamma", "0.1", "--momentum", "0.5"}},
      {"randk", {"--method", "randk", "--gamma", "0.1"}},
      {"stochsign", {"--method", "stochsign"}},
      {"efsign", {"--method", "efsign"}},
      {"fedsgd", {"--method", "fedsgd", "--clip", "1"}},
      {"fedavg", {"--method", "fedavg", "--lr", "0.05"}},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string name = c.name;
    CAPTURE(name);
    std::vector<std::string> flags = {"--clients", "9", "--rounds", "3", "--partition", "dirichlet:0.5",
                                      "--fraction", "0.7", "--eval-every", "0", "--seed", "7"};
    flags.insert(flags.end(), c.flags.begin(), c.flags.end());
    const std::string base = dir.path + "/" + c.name;
    REQUIRE(ok(run_sim(0, flags, base + "-plain.sqlite", base + "-plain.log")));
    const std::string plain = rounds_of(base + "-plain.sqlite");
    REQUIRE(plain.size() > 0);
    const int ranks = k % 2 == 0 ? 2 : 4;
    CAPTURE(ranks);
    const std::string db = base + "-mpi" + std::to_string(ranks) + ".sqlite";
    REQUIRE(ok(run_sim(ranks, flags, db, db + ".log")));
    CHECK(rounds_of(db) == plain);
  }
}

TEST_CASE("mpi: rank 0 writes the coordinator's log and the simulator's tables") {
  TempDir dir;
  const std::string db = dir.path + "/log.sqlite";
  REQUIRE(ok(run_sim(2, {"--clients", "6", "--rounds", "4", "--method", "s3gd", "--gamma", "0.2", "--eval-every", "2",
                         "--test-limit", "200"},
                     db, db + ".log")));
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == 1);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM rounds") == 4);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM clients") == 6);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM updates WHERE status = 'counted' AND agreement IS NOT NULL") == 24);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM rounds WHERE test_accuracy IS NOT NULL") == 2);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM results WHERE applied = 1") == 4);
  CHECK(test::query_number(db, "SELECT COUNT(*) FROM sim_clients") == 6);
  CHECK(test::query_text(db, "SELECT json_extract(sim_config, '$.mode') || json_extract(sim_config, '$.ranks') FROM sim_runs") ==
        "mpi2");
  // signfed-report reads it as any run's log.
  Process report("/usr/bin/python3", {SIGNFED_REPORT_SCRIPT, db, "--out", dir.path + "/report"}, dir.path + "/report.log");
  CHECK(report.wait(120) == 0);
  CHECK(std::filesystem::exists(dir.path + "/report/report.html"));
  // The last checkpoint is the final model.
  CHECK(test::query_text(db, "SELECT model_digest FROM rounds WHERE round = 3") ==
        test::query_text(db, "SELECT digest FROM checkpoints ORDER BY round DESC LIMIT 1"));
}

TEST_CASE("mpi: options the ranks cannot honour are refused, not ignored") {
  TempDir dir;
  const std::vector<std::vector<std::string>> refused = {
      {"--virtual-time"}, {"--dropout", "0.1"}, {"--workers", "2"}, {"--method", "fedsgd", "--aggregate", "median"},
      {"--holdout", "0.1"}, {"--guarded-step"}, {"--policy", "overselect:1"}};
  for (const auto& extra : refused) {
    const std::string flag = extra.front();
    CAPTURE(flag);
    std::vector<std::string> flags = {"--clients", "4", "--rounds", "1"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    const Ran r = run_sim(2, flags, dir.path + "/refused.sqlite", dir.path + "/refused.log");
    CHECK(r.rc == 2);  // refused at the command line, before any rank ran a round
    CHECK(r.output.find("--mpi") != std::string::npos);
  }
}
