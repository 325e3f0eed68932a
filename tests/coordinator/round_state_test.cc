// RoundState: the admission rules of one round without any I/O.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "coordinator/round_state.h"

using namespace signfed::coord;

namespace {
std::unique_ptr<Received> update(double latency_ms, double virtual_ms = -1.0) {
  auto r = std::make_unique<Received>();
  r->row.latency_ms = latency_ms;
  r->row.status = "counted";
  r->virtual_ms = virtual_ms;
  return r;
}
}  // namespace

TEST_CASE("round state: only selected clients count, once, and Skip only before an update") {
  RoundState r(4, {1, 3, 5}, 0.01f, 100.0, 2000.0);
  CHECK(r.round() == 4);
  CHECK(r.row.round == 4);
  CHECK(r.refusal(2) == RoundState::Refusal::not_selected);
  CHECK(r.refusal(3) == RoundState::Refusal::none);
  r.count(3, update(10));
  CHECK(r.refusal(3) == RoundState::Refusal::duplicate);
  CHECK(!r.skip(3));   // already counted
  CHECK(!r.skip(2));   // not selected
  CHECK(r.skip(5));
  CHECK(!r.skip(5));   // once
  CHECK(r.answered(5));
  CHECK(!r.answered(1));
}

TEST_CASE("round state: complete when enough updates arrived or everyone answered") {
  RoundState r(0, {1, 2, 3}, 0.01f, 0.0, 1000.0);
  CHECK(!r.complete(2));
  r.count(1, update(5));
  CHECK(!r.complete(2));
  CHECK(r.complete(1));
  r.skip(2);
  CHECK(!r.complete(3));
  r.count(3, update(7));
  CHECK(r.complete(3));  // 2 updates + 1 skip = everyone
}

TEST_CASE("round state: close applies the straggler policy to simulated latencies under virtual time") {
  RoundState r(2, {1, 2, 3, 4}, 0.01f, 0.0, 1000.0);  // a 1 s (simulated) deadline
  r.count(1, update(5, 100));
  r.count(2, update(5, 200));
  r.count(3, update(5, 300));
  r.count(4, update(5, 5000));  // the straggler
  const RoundState::Closed c = r.close(parse_policy("deadline"), true);
  CHECK(!r.is_open());
  REQUIRE(c.late.size() == 1);
  CHECK(c.late[0].status == "late");
  CHECK(r.updates() == 3);
  CHECK(!r.has_update(4));
  CHECK(c.counted_latency.size() == 3);
  CHECK(c.simulated_ms == doctest::Approx(1000.0));  // the round waited for its deadline
  CHECK(!r.skip(1));  // closed
}

TEST_CASE("round state: without virtual time close keeps every counted update") {
  RoundState r(2, {1, 2}, 0.01f, 0.0, 1000.0);
  r.count(1, update(5, 100));
  r.count(2, update(6, 9000));
  const RoundState::Closed c = r.close(parse_policy("deadline"), false);
  CHECK(c.late.empty());
  CHECK(r.updates() == 2);
  CHECK(c.counted_latency == std::vector<double>{5, 6});
}

TEST_CASE("round state: dropped is the selected clients that neither counted, were late at close, nor skipped") {
  RoundState r(3, {1, 2, 3, 4, 5, 6}, 0.01f, 0.0, 1000.0);  // a 1 s (simulated) deadline
  r.count(1, update(5, 100));
  r.count(2, update(5, 5000));  // late at close
  CHECK(r.skip(3));
  CHECK(r.refusal(3) == RoundState::Refusal::duplicate);  // no update after a Skip: the sets stay disjoint
  // 4 silent, 5 silent, 6 sent only a rejected update (not counted)
  CHECK(r.dropped() == 3);  // before close, 2 is still counted
  r.close(parse_policy("deadline"), true);
  CHECK(r.updates() == 1);
  CHECK(r.late_at_close() == 1);
  CHECK(r.skipped() == 1);
  CHECK(r.dropped() == 3);
  CHECK(r.updates() + r.late_at_close() + r.skipped() + r.dropped() == r.selected().size());
}
