// End-to-end federated evaluation: real signfed-edge processes hold out 20%
// of their shard (--holdout 0.2) and report on it every 2 rounds to a real
// coordinator with no central test set (--no-test); the SQLite log holds one
// client_evals row per client per eval round and their sample-weighted mean.
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/federation.h"

using namespace signfed::test;

TEST_CASE("e2e: federated evaluation, 3 edges --holdout 0.2, --eval-every 2 --no-test, 4 rounds") {
  Federation f;
  f.start_coordinator(3, {"--rounds", "4", "--eval-every", "2", "--no-test", "--round-timeout", "20000"});
  f.start_edges(3, {"--partition", "iid", "--holdout", "0.2"});
  f.require_coordinator_success(60);
  const std::string& db = f.db;
  CHECK(query_text(db, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1") == "completed");
  // Eval rounds 1 and 3 (the last): every client answered both.
  CHECK(query_number(db, "SELECT COUNT(*) FROM client_evals WHERE round=1") == 3);
  CHECK(query_number(db, "SELECT COUNT(*) FROM client_evals WHERE round=3") == 3);
  CHECK(query_number(db, "SELECT COUNT(*) FROM client_evals WHERE round NOT IN (1, 3)") == 0);
  // 60,000 Fashion-MNIST images over 3 clients, 20% of each held out.
  CHECK(query_number(db, "SELECT MIN(samples) FROM client_evals") == 4000);
  CHECK(query_number(db, "SELECT MAX(samples) FROM client_evals") == 4000);
  // Clients joined with what they train on: the other 80%.
  CHECK(query_number(db, "SELECT MAX(samples) FROM clients") == 16000);
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds WHERE test_accuracy IS NOT NULL") == 0);
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds WHERE fed_accuracy IS NOT NULL") == 2);
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds WHERE fed_samples = 12000") == 2);
  // The aggregate is the sample-weighted mean of the rows.
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds r WHERE r.fed_accuracy IS NOT NULL AND abs(r.fed_accuracy - "
                         "(SELECT SUM(accuracy * samples) / SUM(samples) FROM client_evals e WHERE e.run_id=r.run_id "
                         "AND e.round=r.round)) > 1e-12") == 0);
  CHECK(query_number(db, "SELECT MIN(accuracy) FROM client_evals") > 0.2);  // better than chance (10%) already
  f.check_edges_final_model();
}
