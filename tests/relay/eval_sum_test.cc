// A relay's sum of its children's EvalReports (relay/eval_sum.h), pure: what
// it counts, what it refuses and why, when it is ready to go up, and the
// bound on a report's samples (a client's Join samples; a relay's subtree).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "coordinator/client_registry.h"
#include "coordinator/inbound_checks.h"
#include "relay/eval_sum.h"
#include "schema/wire.h"

using namespace signfed;
using relay::EvalSum;
using wire::ErrorCode;

namespace {

// An EvalReport to read through the generated accessors (its builder's bytes kept alive).
struct Report {
  std::vector<std::uint8_t> bytes;
  const wire::EvalReport& get() const { return *wire::GetEnvelope(bytes.data())->body_as_EvalReport(); }
};

Report report(std::uint32_t round, std::uint32_t client, double loss_sum, std::uint64_t correct, std::uint64_t samples) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto b = wire::finish_envelope(fbb, wire::CreateEvalReport(fbb, round, client, loss_sum, correct, samples));
  return {{b.begin(), b.end()}};
}

std::optional<ErrorCode> refusal(EvalSum& s, std::uint32_t child, const Report& r, std::uint64_t bound = 1000) {
  const auto no = s.offer(child, r.get(), bound);
  return no ? std::optional(no->code) : std::nullopt;
}

}  // namespace

TEST_CASE("relay eval sum: the children's reports add up to one, with a row each") {
  EvalSum s;
  s.open(7, {1, 2, 3}, 100.0);
  CHECK(s.is_open());
  CHECK_FALSE(refusal(s, 1, report(7, 1, 20.0, 30, 40)));
  CHECK_FALSE(s.ready(50.0));
  CHECK_FALSE(refusal(s, 2, report(7, 2, 0.0, 0, 0)));  // no hold-out: an answer without a row
  CHECK_FALSE(s.ready(50.0));
  CHECK_FALSE(refusal(s, 3, report(7, 3, 5.0, 10, 60)));
  CHECK(s.ready(50.0));  // everyone asked has answered, before the deadline
  const EvalSum::Sums sums = s.take();
  CHECK_FALSE(s.is_open());
  CHECK(sums.round == 7);
  CHECK(sums.loss_sum == 25.0);
  CHECK(sums.correct == 40);
  CHECK(sums.samples == 100);
  REQUIRE(sums.rows.size() == 2);
  CHECK(sums.rows[0].client_id == 1);
  CHECK(sums.rows[0].loss == 0.5);
  CHECK(sums.rows[0].accuracy == 0.75);
  CHECK(sums.rows[1].client_id == 3);
  CHECK(sums.rows[1].samples == 60);
  // Closed: a late report is refused, and nothing is ready.
  CHECK(refusal(s, 1, report(7, 1, 1.0, 1, 1)) == ErrorCode::wrong_round);
  CHECK_FALSE(s.ready(1e9));
}

TEST_CASE("relay eval sum: a child that does not answer holds it until the deadline") {
  EvalSum s;
  s.open(2, {4, 5}, 10.0);
  CHECK_FALSE(refusal(s, 4, report(2, 4, 1.0, 1, 2)));
  CHECK_FALSE(s.ready(9.99));
  CHECK(s.ready(10.0));
  CHECK(s.take().samples == 2);
  EvalSum none;
  none.open(3, {}, 10.0);
  CHECK(none.ready(0.0));  // no children: an answer of none, at once
}

TEST_CASE("relay eval sum: misattributed, other-round, unasked, second and out-of-range reports are refused and not counted") {
  EvalSum s;
  s.open(5, {1, 2}, 100.0);
  CHECK(refusal(s, 1, report(5, 2, 1.0, 1, 1)) == ErrorCode::bad_message);  // claims another child
  CHECK(refusal(s, 1, report(4, 1, 1.0, 1, 1)) == ErrorCode::wrong_round);
  CHECK(refusal(s, 9, report(5, 9, 1.0, 1, 1)) == ErrorCode::not_selected);
  CHECK(refusal(s, 1, report(5, 1, 1.0, 1, 1001)) == ErrorCode::bad_value);   // beyond its bound
  CHECK(refusal(s, 1, report(5, 1, -1.0, 1, 10)) == ErrorCode::bad_value);
  CHECK(refusal(s, 1, report(5, 1, std::numeric_limits<double>::quiet_NaN(), 1, 10)) == ErrorCode::bad_value);
  CHECK(refusal(s, 1, report(5, 1, std::numeric_limits<double>::infinity(), 1, 10)) == ErrorCode::bad_value);
  CHECK(refusal(s, 1, report(5, 1, 1.0, 11, 10)) == ErrorCode::bad_value);    // more correct than samples
  CHECK_FALSE(refusal(s, 1, report(5, 1, 3.0, 4, 10)));
  CHECK(refusal(s, 1, report(5, 1, 3.0, 4, 10)) == ErrorCode::duplicate_update);
  CHECK_FALSE(s.ready(0.0));  // child 2 still owes one
  CHECK_FALSE(refusal(s, 2, report(5, 2, 0.0, 0, 0)));
  CHECK(s.ready(0.0));
  const EvalSum::Sums sums = s.take();
  CHECK(sums.samples == 10);
  CHECK(sums.correct == 4);
  CHECK(sums.loss_sum == 3.0);
}

TEST_CASE("relay eval sum: a client may claim its Join samples, a relay its subtree's") {
  coord::Client leaf;
  leaf.row.samples = 600;
  CHECK(coord::eval_samples_bound(leaf) == 600);
  coord::Client relay;
  relay.relay_clients = 3;
  CHECK(coord::eval_samples_bound(relay) == 3 * 0xFFFFFFFFull);
  CHECK_FALSE(coord::check_eval_values(report(1, 1, 0.0, 0, 3 * 0xFFFFFFFFull).get(), coord::eval_samples_bound(relay)));
  CHECK(coord::check_eval_values(report(1, 1, 0.0, 0, 3 * 0xFFFFFFFFull + 1).get(), coord::eval_samples_bound(relay)));
}
