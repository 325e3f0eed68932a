// Federated evaluation at the coordinator, in-process (net::MemoryTransport,
// net::ManualClock, the handle_frame seam, as tests/security/hostile_test.cc):
// which VoteResults ask for evaluation, EvalReports stored per client and
// aggregated sample-weighted with exact numbers, landing with the next
// round's commit, every kind of bad report refused with a bounded log, and
// the wait for the last round's reports.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "coordinator/coordinator.h"
#include "net/memory_transport.h"
#include "schema/wire.h"
#include "tests/e2e/process.h"
#include "tests/support/coordinator_rig.h"
#include "tests/support/wire_messages.h"

using namespace signfed;
using namespace signfed::test;

namespace {

constexpr std::uint32_t kDim = 46;  // mlp:8-4-2

Bytes join(const std::string& name, std::uint64_t samples) {
  return join_message(name, "mlp:8-4-2", kDim, "test", samples);
}

Bytes update(std::uint32_t round, std::uint32_t client) {
  return update_message(round, client, codec::make_dense_packet(kDim, Bytes((kDim + 7) / 8, 0x15), 1.0f));
}

Bytes report(std::uint32_t round, std::uint32_t client, double loss_sum, std::uint64_t correct, std::uint64_t samples) {
  flatbuffers::FlatBufferBuilder fbb;
  return finish(fbb, wire::CreateEvalReport(fbb, round, client, loss_sum, correct, samples));
}

// Clients a (key KA, 100 samples), b (KB, 300) and c (KC, 100) on peers p0..p2,
// ids 0..2; --eval-every 2 over `rounds` rounds, no central test set.
coord::CoordinatorConfig eval_config(std::uint32_t rounds) {
  coord::CoordinatorConfig cfg;
  cfg.model = "mlp:8-4-2";
  cfg.eval_every = 2;
  cfg.central_test = false;
  cfg.rounds = rounds;
  return cfg;
}

struct Rig : CoordinatorRig {
  explicit Rig(std::uint32_t rounds = 100) : CoordinatorRig(eval_config(rounds), {"KA", "KB", "KC"}) {
    from("p0", join("a", 100), "KA");
    from("p1", join("b", 300), "KB");
    from("p2", join("c", 100), "KC");
  }
  void a(const Bytes& b) { from("p0", b, "KA"); }
  void b(const Bytes& m) { from("p1", m, "KB"); }
  void cc(const Bytes& m) { from("p2", m, "KC"); }
  // A round with every client's update.
  void play(std::uint32_t round) {
    c->begin_round_for_test(round);
    a(update(round, 0));
    b(update(round, 1));
    cc(update(round, 2));
    c->finish_round_for_test();
  }
  // The evaluate flag of every VoteResult sent to p0, by round.
  std::vector<std::uint32_t> eval_rounds() const {
    std::vector<std::uint32_t> out;
    for (const wire::Envelope* e : received("p0"))
      if (e->body_type() == wire::Body::VoteResult && e->body_as_VoteResult()->evaluate())
        out.push_back(e->body_as_VoteResult()->round());
    return out;
  }
};

}  // namespace

TEST_CASE("federated eval: every --eval-every rounds and the last round's VoteResult ask for evaluation") {
  Rig r(5);
  for (std::uint32_t round = 0; round < 5; ++round) r.play(round);
  CHECK(r.eval_rounds() == std::vector<std::uint32_t>{1, 3, 4});
}

TEST_CASE("federated eval: reports are stored per client and aggregated sample-weighted with the next commit") {
  Rig r;
  r.play(0);
  r.play(1);  // asks for evaluation
  r.c->begin_round_for_test(2);
  r.a(report(1, 0, 50.0, 80, 100));    // loss 0.5, accuracy 0.8
  r.b(report(1, 1, 300.0, 150, 300));  // loss 1.0, accuracy 0.5
  r.cc(report(1, 2, 0.0, 0, 0));       // no hold-out: an answer, not a row
  // Not written before round 2 commits: one transaction per round.
  CHECK(r.q("SELECT COUNT(*) FROM client_evals") == 0);
  CHECK(r.q("SELECT fed_accuracy IS NULL FROM rounds WHERE round=1") == 1);
  r.a(update(2, 0));
  r.b(update(2, 1));
  r.cc(update(2, 2));
  r.c->finish_round_for_test();
  CHECK(r.q("SELECT COUNT(*) FROM client_evals WHERE round=1") == 2);
  CHECK(r.q("SELECT loss FROM client_evals WHERE round=1 AND client_id=0") == 0.5);
  CHECK(r.q("SELECT accuracy FROM client_evals WHERE round=1 AND client_id=0") == 0.8);
  CHECK(r.q("SELECT samples FROM client_evals WHERE round=1 AND client_id=1") == 300);
  CHECK(r.q("SELECT fed_loss FROM rounds WHERE round=1") == doctest::Approx(350.0 / 400.0).epsilon(1e-12));
  CHECK(r.q("SELECT fed_accuracy FROM rounds WHERE round=1") == doctest::Approx(230.0 / 400.0).epsilon(1e-12));
  CHECK(r.q("SELECT fed_samples FROM rounds WHERE round=1") == 400);
  CHECK(r.q("SELECT test_accuracy IS NULL FROM rounds WHERE round=1") == 1);  // --no-test
  CHECK(r.q("SELECT COUNT(*) FROM events WHERE kind='eval_rejected'") == 0);
  CHECK(r.errors("p0").empty());
}

TEST_CASE("federated eval: a report arriving two rounds later updates its round's aggregate") {
  Rig r;
  r.play(0);
  r.play(1);
  r.c->begin_round_for_test(2);
  r.a(report(1, 0, 50.0, 80, 100));
  r.a(update(2, 0));
  r.b(update(2, 1));
  r.cc(update(2, 2));
  r.c->finish_round_for_test();
  CHECK(r.q("SELECT fed_accuracy FROM rounds WHERE round=1") == doctest::Approx(0.8));
  r.c->begin_round_for_test(3);
  r.b(report(1, 1, 300.0, 150, 300));  // late but within the window
  r.a(update(3, 0));
  r.b(update(3, 1));
  r.cc(update(3, 2));
  r.c->finish_round_for_test();
  CHECK(r.q("SELECT fed_accuracy FROM rounds WHERE round=1") == doctest::Approx(230.0 / 400.0).epsilon(1e-12));
  CHECK(r.q("SELECT fed_samples FROM rounds WHERE round=1") == 400);
}

TEST_CASE("federated eval: duplicate, out-of-range, unknown, misattributed and wrong-key reports are refused") {
  Rig r;
  r.play(0);
  r.c->begin_round_for_test(1);
  r.a(report(0, 0, 1.0, 1, 10));  // round 0 did not ask for evaluation
  r.a(update(1, 0));
  r.b(update(1, 1));
  r.cc(update(1, 2));
  r.c->finish_round_for_test();
  r.c->begin_round_for_test(2);
  r.a(report(1, 0, 50.0, 80, 100));
  r.a(report(1, 0, 50.0, 80, 100));    // duplicate
  r.a(report(2, 0, 50.0, 80, 100));    // round 2 is not finished
  r.b(report(1, 0, 50.0, 80, 100));    // b claims to be a
  r.b(report(1, 1, 1.0, 1, 301));      // more samples than b joined with
  r.b(report(1, 1, 1.0, 11, 10));      // more correct than samples
  r.b(report(1, 1, std::numeric_limits<double>::quiet_NaN(), 1, 10));
  r.b(report(1, 1, -1.0, 1, 10));
  r.from("px", report(1, 0, 1.0, 1, 10), "KC");  // a peer that never joined
  r.from("p0", report(1, 0, 1.0, 1, 10), "KB");  // a's connection, another key: a stranger
  r.cc(report(1, 2, 10.0, 5, 10));     // the only good one besides a's first
  r.c->finish_round_for_test();
  using E = wire::ErrorCode;
  CHECK(r.errors("p0") == std::vector{E::wrong_round, E::duplicate_update, E::wrong_round, E::unknown_client});
  CHECK(r.errors("p1") == std::vector{E::bad_message, E::bad_value, E::bad_value, E::bad_value, E::bad_value});
  CHECK(r.errors("px") == std::vector{E::unknown_client});
  CHECK(r.q("SELECT COUNT(*) FROM client_evals") == 2);
  CHECK(r.q("SELECT fed_samples FROM rounds WHERE round=1") == 110);
  CHECK(r.q("SELECT COUNT(*) FROM events WHERE kind='eval_rejected'") == 8);
  // A stale round: more than 3 rounds behind the last finished one.
  for (std::uint32_t round = 3; round < 7; ++round) r.play(round);
  r.c->begin_round_for_test(7);
  r.b(report(1, 1, 30.0, 15, 30));
  CHECK(r.errors("p1").back() == E::wrong_round);
}

TEST_CASE("federated eval: a replayed report costs at most 8 rows and replies per round") {
  Rig r;
  r.play(0);
  r.play(1);
  r.c->begin_round_for_test(2);
  r.a(report(1, 0, 50.0, 80, 100));
  for (int i = 0; i < 500; ++i) r.a(report(1, 0, 50.0, 80, 100));
  r.c->finish_round_for_test();
  CHECK(r.q("SELECT COUNT(*) FROM events WHERE kind='eval_rejected'") == 8);
  CHECK(r.errors("p0").size() == 8);
  CHECK(r.q("SELECT COUNT(*) FROM client_evals") == 1);
}

TEST_CASE("federated eval: the last round's reports are written after it, waiting for missing ones until the timeout") {
  Rig r(2);
  r.play(0);
  r.play(1);  // the last round: asks
  r.a(report(1, 0, 50.0, 80, 100));
  r.b(report(1, 1, 300.0, 150, 300));
  // c never answers: the wait ends at --round-timeout (the manual clock jumps there).
  r.c->finish_evals_for_test();
  CHECK(r.q("SELECT COUNT(*) FROM client_evals WHERE round=1") == 2);
  CHECK(r.q("SELECT fed_accuracy FROM rounds WHERE round=1") == doctest::Approx(230.0 / 400.0).epsilon(1e-12));
  // A report that arrives during the wait is written too.
  Rig s(2);
  s.play(0);
  s.play(1);
  s.transport->deliver_at(1.0, "p2", report(1, 2, 10.0, 5, 10), "KC");
  s.a(report(1, 0, 50.0, 80, 100));
  s.b(report(1, 1, 0.0, 0, 0));
  s.c->finish_evals_for_test();
  CHECK(s.q("SELECT COUNT(*) FROM client_evals WHERE round=1") == 2);
  CHECK(s.q("SELECT fed_samples FROM rounds WHERE round=1") == 110);
}
