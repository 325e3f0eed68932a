// The coordinator's side of a relay, in-process (net::MemoryTransport, the
// handle_frame seam, as tests/coordinator/federated_eval_test.cc): a relay's
// Join is refused for runs without partial tallies, a TallyUpdate is verified
// like an Update (sender, round, kind, counts, rows, duplicates) and a
// hostile one is refused without a crash; an accepted one is merged with the
// direct clients' packets into the flat vote and logs one row per leaf client.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "core/methods/tally.h"
#include "core/methods/vote.h"
#include "schema/wire.h"
#include "tests/support/coordinator_rig.h"
#include "tests/support/wire_messages.h"

using namespace signfed;
using namespace signfed::test;

namespace {

constexpr std::uint32_t kDim = 46;  // mlp:8-4-2

coord::CoordinatorConfig config() {
  coord::CoordinatorConfig cfg;
  cfg.model = "mlp:8-4-2";
  cfg.eval_every = 0;
  cfg.central_test = false;
  cfg.rounds = 100;
  return cfg;
}

Bytes relay_join(const std::string& name, std::uint32_t clients) {
  flatbuffers::FlatBufferBuilder fbb;
  return finish(fbb, wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(name), fbb.CreateString("relay"),
                                      fbb.CreateString("x86_64"), fbb.CreateString(""), 0, 0,
                                      fbb.CreateString("relay"), 0, 0, 0, 0, 0, 0, clients));
}

codec::SignPacket dense(std::uint8_t pattern) { return codec::make_dense_packet(kDim, Bytes((kDim + 7) / 8, pattern), 1.0f); }

struct Child {
  std::string name;
  wire::ChildStatus status = wire::ChildStatus::counted;
};

Bytes tally_update(std::uint32_t round, std::uint32_t relay_id, const Bytes& tally, const std::vector<Child>& rows,
                   const wire::LeafTotals* logged_below = nullptr) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::ChildRow>> offs;
  for (const Child& ch : rows)
    offs.push_back(wire::CreateChildRow(fbb, fbb.CreateString(ch.name), 100, fbb.CreateString("Linux"),
                                        fbb.CreateString("x86_64"), ch.status, round, 40, 6, 3.0f, 1.5f, 32));
  return finish(fbb, wire::CreateTallyUpdate(fbb, round, relay_id, fbb.CreateVector(tally), fbb.CreateVector(offs), 80,
                                             logged_below));
}

// The vote tally of these packets, encoded.
Bytes vote_tally(std::initializer_list<std::uint8_t> patterns) {
  methods::VoteTally t(kDim);
  for (std::uint8_t p : patterns) t.add(dense(p).view());
  return methods::encode_tally(t);
}

wire::ErrorCode last_error(const CoordinatorRig& rig, const std::string& peer) {
  const auto e = rig.errors(peer);
  REQUIRE(!e.empty());
  return e.back();
}

}  // namespace

TEST_CASE("relay: the coordinator refuses a relay for --aggregate median with an error that says why") {
  coord::CoordinatorConfig cfg = config();
  cfg.aggregate.rule = methods::AggregateRule::median;
  cfg.method.method = wire::Method::fedsgd;
  CoordinatorRig rig(cfg);
  rig.from("r", relay_join("relay-0", 2));
  REQUIRE(last_error(rig, "r") == wire::ErrorCode::bad_value);
  const auto got = rig.received("r");
  const std::string text = got.back()->body_as_Error()->text()->str();
  CHECK(text.find("no partial tallies") != std::string::npos);
  CHECK(rig.q("SELECT COUNT(*) FROM clients") == 0);
}

TEST_CASE("relay: a TallyUpdate is verified like an Update and hostile ones are refused without a crash") {
  CoordinatorRig rig(config());
  rig.from("r", relay_join("relay-0", 2));    // id 0, speaks for 2
  rig.from("d", join_message("direct", "mlp:8-4-2", kDim, "test"));  // id 1
  REQUIRE(rig.errors("r").empty());
  CHECK(rig.q("SELECT COUNT(*) FROM clients WHERE platform='relay'") == 1);
  rig.c->begin_round_for_test(0);

  const Bytes good = vote_tally({0x15, 0x0f});
  // Not a relay: a direct client may not send tallies.
  rig.from("d", tally_update(0, 1, good, {{"a"}, {"b"}}));
  CHECK(last_error(rig, "d") == wire::ErrorCode::bad_message);
  // Another client's id, another round.
  rig.from("r", tally_update(0, 1, good, {{"a"}, {"b"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_message);
  rig.from("r", tally_update(3, 0, good, {{"a"}, {"b"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::wrong_round);
  // Garbage and truncated tallies, a mean tally for a vote method.
  rig.from("r", tally_update(0, 0, Bytes{1, 2, 3, 4, 5}, {{"a"}, {"b"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_message);
  rig.from("r", tally_update(0, 0, Bytes(good.begin(), good.end() - 1), {{"a"}, {"b"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_message);
  methods::MeanTally mean(kDim);
  mean.add(dense(0x15).view(), 1, 0.0);
  rig.from("r", tally_update(0, 0, methods::encode_tally(mean), {{"a"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_message);
  // More voters than the relay speaks for; counted rows that do not match the tally.
  rig.from("r", tally_update(0, 0, vote_tally({0x15, 0x0f, 0x33}), {{"a"}, {"b"}, {"c"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_value);
  // (At most 8 refusals a round are answered and logged per client: the rest in the next round.)
  rig.c->finish_round_for_test();
  rig.c->begin_round_for_test(1);
  rig.from("r", tally_update(1, 0, good, {{"a"}, {"a"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::duplicate_update);
  rig.from("r", tally_update(1, 0, good, {{"a"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_value);
  rig.from("r", tally_update(1, 0, good, {{"a"}, {"bad name!"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_value);
  const std::size_t errors_before = rig.errors("r").size();

  // The good one counts once; a second is a duplicate.
  rig.from("r", tally_update(1, 0, good, {{"a"}, {"b"}, {"c", wire::ChildStatus::skipped}}));
  CHECK(rig.errors("r").size() == errors_before);
  rig.from("r", tally_update(1, 0, good, {{"a"}, {"b"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::duplicate_update);
  rig.from("d", update_message(1, 1, dense(0x33)));
  rig.c->finish_round_for_test();

  // The vote is the flat vote over the three packets, and voters counts the leaves.
  const auto got = rig.received("d");
  const wire::VoteResult* vr = nullptr;
  for (const wire::Envelope* e : got)
    if (e->body_type() == wire::Body::VoteResult) vr = e->body_as_VoteResult();
  REQUIRE(vr != nullptr);
  CHECK(vr->voters() == 3);
  // The flat vote by hand: sign of the sum of three dense packets (bit set = -1; no ties with 3 voters).
  const codec::TernarySigns got_signs = codec::decode_ternary(codec::view_of(*vr->packet()));
  for (std::uint32_t i = 0; i < kDim; ++i) {
    int sum = 0;
    for (std::uint8_t p : {0x15, 0x0f, 0x33}) sum += ((p >> (i & 7)) & 1) ? -1 : 1;
    CHECK(got_signs.at(i) == (sum > 0 ? 1 : -1));
  }
  // One row per leaf client (and the relay's own), as a flat run logs per client.
  CHECK(rig.q("SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) WHERE c.name IN ('a','b') "
              "AND u.status='counted' AND u.round=1") == 2);
  CHECK(rig.q("SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) WHERE c.name='c' AND "
              "u.status='skipped'") == 1);
  CHECK(rig.q("SELECT received FROM rounds WHERE round=1") == 3);
  CHECK(rig.q("SELECT selected FROM rounds WHERE round=1") == 3);
}

TEST_CASE("relay: leaves logged in the relay's own log count through their totals and hostile totals are refused") {
  CoordinatorRig rig(config());
  rig.from("r", relay_join("relay-0", 3));  // id 0, speaks for 3
  REQUIRE(rig.errors("r").empty());
  rig.c->begin_round_for_test(0);
  const Bytes two = vote_tally({0x15, 0x0f});
  using T = wire::LeafTotals;
  // counted, late, rejected, skipped, counted samples, loss sum
  const T mismatch(2, 0, 0, 0, 64, 3.0), too_many(1, 0, 4, 0, 32, 2.5), nan_loss(1, 0, 0, 0, 32, std::nan("")),
      samples(1, 0, 0, 0, std::uint64_t{1} << 30, 2.5), good(1, 0, 1, 0, 32, 2.5);
  for (const T* bad : {&mismatch, &too_many, &nan_loss, &samples}) {
    CAPTURE(bad->counted());
    const std::size_t before = rig.errors("r").size();
    rig.from("r", tally_update(0, 0, two, {{"a"}}, bad));
    REQUIRE(rig.errors("r").size() == before + 1);
    CHECK(last_error(rig, "r") == wire::ErrorCode::bad_value);
  }
  // Without the totals, one counted row for a tally of two does not add up either.
  rig.from("r", tally_update(0, 0, two, {{"a"}}));
  CHECK(last_error(rig, "r") == wire::ErrorCode::bad_value);
  const std::size_t errors_before = rig.errors("r").size();
  rig.from("r", tally_update(0, 0, two, {{"a"}}, &good));  // one leaf row up, one counted and one rejected below
  CHECK(rig.errors("r").size() == errors_before);
  rig.c->finish_round_for_test();
  CHECK(rig.q("SELECT received FROM rounds WHERE round=0") == 2);
  CHECK(rig.q("SELECT rejected FROM rounds WHERE round=0") == 1 + 5);  // below + the five refused tallies' rows
  CHECK(rig.q("SELECT train_loss FROM rounds WHERE round=0") == doctest::Approx((1.5 + 2.5) / 2));
  // The rows the relay kept are not in this log: the relay's own row and leaf a's.
  CHECK(rig.q("SELECT COUNT(*) FROM updates WHERE round=0 AND status='counted'") == 2);
  CHECK(rig.q("SELECT COUNT(*) FROM clients WHERE platform != 'relay'") == 1);
}
