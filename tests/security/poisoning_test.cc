// Model poisoning (issue 11): one fedavg client sends 3e38 in every
// coordinate. With --aggregate median the run learns as if it were absent
// (within 2 points); with the plain mean every poisoned round is refused
// (events 'aggregate_refused', rounds.refused) and the model stays finite and
// equal on every replica, so the honest clients keep working.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "tests/e2e/federation.h"

#ifdef SIGNFED_FAULTY_EDGE_BIN  // the attacker runs signfed-edge-faulty (built with the tools)

using namespace signfed;
using namespace signfed::test;

namespace {

constexpr int kRounds = 20;
constexpr int kShards = 5;  // edge i of 5: the honest clients keep their shards with or without the attacker

struct Outcome {
  double accuracy = -1, test_loss = -1;
  double refused_rounds = -1, refused_events = -1, digests = -1;
};

Outcome run(const std::string& aggregate, bool attacker) {
  const auto t0 = std::chrono::steady_clock::now();
  Federation f;
  std::vector<std::string> args = {"--rounds", std::to_string(kRounds), "--method", "fedavg", "--local-steps", "5",
                                   "--lr", "0.05", "--eval-every", std::to_string(kRounds), "--test-limit", "5000",
                                   "--round-timeout", "20000"};
  if (aggregate != "mean") args.insert(args.end(), {"--aggregate", aggregate});
  f.start_coordinator(attacker ? kShards : kShards - 1, args);
  for (int i = 0; i < kShards - 1; ++i) f.start_edge(i, kShards, {"--partition", "iid"});
  if (attacker) {
    f.edge_bin = SIGNFED_FAULTY_EDGE_BIN;
    f.start_edge(kShards - 1, kShards, {"--partition", "iid", "--byzantine", "scale:3e38"});
  }
  f.require_coordinator_success(300);
  f.check_edges_final_model();  // every client, the attacker included, ends on the logged model
  Outcome o;
  o.accuracy = query_number(f.db, "SELECT test_accuracy FROM rounds WHERE round=" + std::to_string(kRounds - 1));
  o.test_loss = query_number(f.db, "SELECT test_loss FROM rounds WHERE round=" + std::to_string(kRounds - 1));
  o.refused_rounds = query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE refused IS NOT NULL");
  o.refused_events = query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind='aggregate_refused'");
  o.digests = query_number(f.db, "SELECT COUNT(DISTINCT model_digest) FROM rounds");
  if (o.refused_rounds > 0) {
    // 3e38 times the attacker's sample count is beyond the exact mean's 2^40 per term (core/methods/tally.h).
    CHECK(query_text(f.db, "SELECT refused FROM rounds LIMIT 1") ==
          "an update coordinate times its weight beyond 2^40 (or not finite)");
    CHECK(f.coordinator->output().find("REFUSED the aggregate") != std::string::npos);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("--aggregate " << aggregate << std::string(attacker ? ", attacker" : ", no attacker") << ": accuracy " << o.accuracy
                         << ", test loss " << o.test_loss << ", refused rounds " << o.refused_rounds << ", " << s
                         << " s");
  return o;
}

}  // namespace

TEST_CASE("poisoning: one fedavg client sending 3e38 - the median learns as without it, the plain mean refuses every round") {
  const Outcome clean_mean = run("mean", false);  // for the record: what the median costs without an attacker
  const Outcome clean = run("median", false);
  const Outcome median = run("median", true);
  const Outcome mean = run("mean", true);
  CHECK(clean_mean.refused_rounds == 0);
  CHECK(clean.accuracy >= 0.7);  // it learns at all in kRounds
  CHECK(clean.refused_rounds == 0);
  CHECK(median.refused_rounds == 0);
  CHECK(median.accuracy >= clean.accuracy - 0.02);
  CHECK((median.test_loss >= 0 && std::isfinite(median.test_loss)));  // -1: NULL, a NaN loss
  CHECK(mean.refused_rounds == kRounds);  // the attacker is in every round
  CHECK(mean.refused_events == kRounds);
  CHECK(mean.digests == 1);               // the model never moved ...
  CHECK((mean.test_loss >= 0 && std::isfinite(mean.test_loss)));  // ... and stayed finite
}

#endif  // SIGNFED_FAULTY_EDGE_BIN
