// Byzantine clients: 2 of 10 clients send flipped (or random) signs; signSGD
// with majority vote on IID Fashion-MNIST must stay within 5 points of the
// clean run at 300 rounds, and the coordinator must flag the liars (and only them).
#include <doctest/doctest.h>

#include <string>

#include "tests/e2e/federation.h"

#ifdef SIGNFED_FAULTY_EDGE_BIN  // the liars run signfed-edge-faulty (built with the tools)

using namespace signfed;
using namespace signfed::test;

namespace {

struct Outcome {
  double accuracy = -1;
  double flagged = 0, flagged_liars = 0;
};

Outcome run(const std::string& byzantine) {
  Federation f;
  f.start_coordinator(10, {"--rounds", "300", "--method", "signsgd", "--lr", "0.001", "--batch", "64",
                           "--eval-every", "100", "--round-timeout", "20000"});
  for (int i = 0; i < 10; ++i) {
    std::vector<std::string> a = {"--partition", "iid", "--quiet"};
    const bool liar = !byzantine.empty() && i >= 8;
    if (liar) a.insert(a.end(), {"--byzantine", byzantine});
    f.edge_bin = liar ? SIGNFED_FAULTY_EDGE_BIN : SIGNFED_EDGE_BIN;  // honest clients run the shipped binary
    f.start_edge(i, 10, a);
  }
  const int rc = f.coordinator->wait(900);
  INFO(f.coordinator->output());
  REQUIRE(rc == 0);
  Outcome o;
  o.accuracy = query_number(f.db, "SELECT test_accuracy FROM rounds WHERE round=299");
  o.flagged = query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind='suspect_client'");
  o.flagged_liars = query_number(f.db,
                                 "SELECT COUNT(*) FROM events e JOIN clients c ON e.client_id=c.client_id AND "
                                 "e.run_id=c.run_id WHERE e.kind='suspect_client' AND c.name IN ('edge-8','edge-9')");
  const double honest = query_number(f.db,
                                     "SELECT AVG(1-agreement) FROM updates u JOIN clients c ON u.client_id=c.client_id "
                                     "WHERE u.status='counted' AND c.name NOT IN ('edge-8','edge-9')");
  const double liars = query_number(f.db,
                                    "SELECT AVG(1-agreement) FROM updates u JOIN clients c ON u.client_id=c.client_id "
                                    "WHERE u.status='counted' AND c.name IN ('edge-8','edge-9')");
  MESSAGE((byzantine.empty() ? "clean" : byzantine) << ": accuracy " << o.accuracy << ", flagged " << o.flagged
                                                    << " (liars " << o.flagged_liars << "), mean disagreement honest "
                                                    << honest << " liars " << liars);
  return o;
}

}  // namespace

TEST_CASE("byzantine: 20% flipping or random clients cost signSGD-MV under 5 points - the flippers are flagged") {
  const Outcome clean = run("");
  const Outcome flip = run("flip");
  const Outcome rnd = run("random");
  CHECK(clean.accuracy >= 0.75);
  CHECK(clean.flagged == 0);
  CHECK(flip.accuracy >= clean.accuracy - 0.05);
  CHECK(rnd.accuracy >= clean.accuracy - 0.05);
  CHECK(flip.flagged == 2);        // the two flippers ...
  CHECK(flip.flagged_liars == 2);  // ... and only them
  CHECK(rnd.flagged == rnd.flagged_liars);  // random liars may or may not stand out; honest clients never flagged
}

#endif  // SIGNFED_FAULTY_EDGE_BIN
