// EdgeClient against a fake coordinator on inproc: join, seeded start, a
// round (task -> update -> vote), a resync by snapshot, the --state file,
// the fault and dropout hooks, and Bye.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/replica/snapshot.h"
#include "edge/edge_client.h"
#include "edge/error_memory_file.h"
#include "tests/data/test_util.h"
#include "tests/edge/edge_test_util.h"
#include "tests/edge/fake_coordinator.h"

using namespace signfed;
using namespace signfed::edge;
using wire::Body;
namespace fb = flatbuffers;

namespace {

int g_endpoint = 0;

struct Rig {
  zmq::context_t ctx;
  std::string endpoint = "inproc://edge-client-test-" + std::to_string(++g_endpoint);
  test::FakeCoordinator coord{ctx, endpoint};
  std::unique_ptr<model::Model> model = model::make_model(test::kSpec, 5);  // the coordinator's model
  core::Replica replica{model->params(), codec::architecture_basis(model->spec())};

  EdgeConfig config() const {
    EdgeConfig c;
    c.endpoint = endpoint;
    c.model = test::kSpec;
    c.quiet = true;
    return c;
  }

  // Delivers what the coordinator sent to the client (false: the client finished).
  static bool pump(EdgeClient& e) {
    zmq::pollitem_t items[] = {{e.socket().handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, std::chrono::milliseconds(2000)) == 0) return true;
    return e.on_readable();
  }

  void send_welcome(std::uint64_t seed = 5) {
    fb::FlatBufferBuilder fbb(256);
    send(fbb, wire::CreateWelcome(fbb, wire::kProtocolVersion, 4, fbb.CreateString("run"), fbb.CreateString(test::kSpec),
                                  model->num_params(), seed));
  }
  void send_task(std::uint32_t round, std::uint64_t digest, wire::Method method = wire::Method::signsgd) {
    fb::FlatBufferBuilder fbb(256);
    auto p = wire::CreateMethodParams(fbb, method, 0.25f, 1.0f, 0.0f, wire::TieRule::zero, 1, 8);
    send(fbb, wire::CreateRoundTask(fbb, round, digest, p, 0.01f, 60000));
  }
  // Applies the packet of the Update last received as the vote, here and at the client.
  void send_vote_of_last_update(std::uint32_t round) {
    const wire::Update* u = coord.last()->body_as_Update();
    const codec::PacketView v = codec::view_of(*u->packet());
    codec::SignPacket pk{v.encoding, v.dim, v.nnz, v.rice_k, v.scale, {v.payload.begin(), v.payload.end()}};
    replica.apply(pk.view(), 0.01f, 0.0f);
    fb::FlatBufferBuilder fbb(pk.payload.size() + 256);
    auto wp = codec::build_packet(fbb, pk);
    send(fbb, wire::CreateVoteResult(fbb, round, wp, 0.01f, 0.0f, replica.digest(), 1));
  }
  void send_bye() {
    fb::FlatBufferBuilder fbb(128);
    send(fbb, wire::CreateBye(fbb, fbb.CreateString("done"), 1, replica.digest()));
  }
  template <class T>
  void send(fb::FlatBufferBuilder& fbb, fb::Offset<T> body) {
    coord.send(wire::finish_envelope(fbb, body));
  }
};

}  // namespace

TEST_CASE("edge client: join, seeded model confirmed by the task, update, vote applied, Bye") {
  Rig r;
  EdgeClient e(r.config(), r.ctx, test::synthetic(40, 16, 4));
  CHECK(e.sync() == EdgeClient::Sync::unknown);
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  CHECK(r.coord.last()->body_as_Join()->num_params() == r.model->num_params());
  r.send_welcome();
  REQUIRE(Rig::pump(e));
  CHECK(e.sync() == EdgeClient::Sync::seeded);
  CHECK(e.session_state() == Session::State::joined);
  CHECK(e.digest() == r.replica.digest());

  r.send_task(0, r.replica.digest());
  REQUIRE(Rig::pump(e));
  CHECK(e.sync() == EdgeClient::Sync::in_sync);
  REQUIRE(r.coord.next_type() == Body::Update);
  const wire::Update* u = r.coord.last()->body_as_Update();
  CHECK(u->round() == 0);
  CHECK(u->client_id() == 4);
  CHECK(u->samples() == 8);
  CHECK(u->packet()->dim() == r.model->num_params());

  r.send_vote_of_last_update(0);
  REQUIRE(Rig::pump(e));
  CHECK(e.rounds_applied() == 1);
  CHECK(e.digest() == r.replica.digest());
  CHECK(e.sync() == EdgeClient::Sync::in_sync);

  r.send_bye();
  CHECK(!Rig::pump(e));
  CHECK(e.exit_code() == 0);
}

TEST_CASE("edge client: a task for another model asks for a snapshot, then runs the task on it") {
  Rig r;
  EdgeClient e(r.config(), r.ctx, test::synthetic(40, 16, 4));
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  r.send_welcome(6);  // another seed: the seeded replica is wrong
  REQUIRE(Rig::pump(e));
  r.send_task(3, r.replica.digest());
  REQUIRE(Rig::pump(e));
  CHECK(e.sync() == EdgeClient::Sync::resyncing);
  REQUIRE(r.coord.next_type() == Body::SnapshotRequest);
  CHECK(r.coord.last()->body_as_SnapshotRequest()->round() == 3);

  core::send_snapshot(r.replica, 3, test::kSpec, [&](std::span<const std::uint8_t> f) {
    r.coord.send(f);
    return f.size();
  });
  REQUIRE(Rig::pump(e));
  CHECK(e.sync() == EdgeClient::Sync::in_sync);
  CHECK(e.digest() == r.replica.digest());
  REQUIRE(r.coord.next_type() == Body::Update);  // the pending task, run after the snapshot
  CHECK(r.coord.last()->body_as_Update()->round() == 3);
}

TEST_CASE("edge client: --state keeps the error memory, a damaged state file starts from zero") {
  data::testing::TempDir d;
  const std::string state = d.file("edge.state");
  {
    std::ofstream f(state, std::ios::binary);
    f << "not a state file";
  }
  Rig r;
  EdgeConfig c = r.config();
  c.state_path = state;
  EdgeClient e(c, r.ctx, test::synthetic(40, 16, 4));  // refuses the damaged file, does not throw
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  r.send_welcome();
  REQUIRE(Rig::pump(e));
  r.send_task(2, r.replica.digest(), wire::Method::s3gd);  // s3gd keeps an error memory
  REQUIRE(Rig::pump(e));
  REQUIRE(r.coord.next_type() == Body::Update);

  std::vector<float> mem(r.model->num_params(), 0.0f);
  const LoadResult lr = load_error_memory(state, mem);
  REQUIRE(lr.status == LoadStatus::ok);
  CHECK(lr.round == 2);
  CHECK(std::any_of(mem.begin(), mem.end(), [](float v) { return v != 0.0f; }));

  // A restarted client sends the same update as one that never stopped.
  const auto sent_with = [&](bool restore) {
    Rig r2;
    EdgeConfig c2 = r2.config();
    if (restore) c2.state_path = state;
    EdgeClient e2(c2, r2.ctx, test::synthetic(40, 16, 4));
    e2.start();
    REQUIRE(r2.coord.next_type() == Body::Join);
    r2.send_welcome();
    REQUIRE(Rig::pump(e2));
    r2.send_task(3, r2.replica.digest(), wire::Method::s3gd);
    REQUIRE(Rig::pump(e2));
    REQUIRE(r2.coord.next_type() == Body::Update);
    const auto* p = r2.coord.last()->body_as_Update()->packet()->payload();
    return std::vector<std::uint8_t>(p->begin(), p->end());
  };
  CHECK(sent_with(true) != sent_with(false));
}

TEST_CASE("edge client: the fault hook rewrites the packet after tracing, the dropout hook sends a Skip") {
  Rig r;
  EdgeConfig c = r.config();
  std::vector<std::uint8_t> traced;
  c.trace_update = [&](std::uint32_t, std::span<const float>, const codec::SignPacket& p) { traced = p.payload; };
  c.tamper_update = [](std::uint32_t round, codec::SignPacket& p) {
    if (round == 0) p.payload[0] ^= 0xff;
  };
  c.skip_round = [](std::uint32_t round) { return round == 1; };
  EdgeClient e(c, r.ctx, test::synthetic(40, 16, 4));
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  r.send_welcome();
  REQUIRE(Rig::pump(e));
  r.send_task(0, r.replica.digest());
  REQUIRE(Rig::pump(e));
  REQUIRE(r.coord.next_type() == Body::Update);
  const auto* sent = r.coord.last()->body_as_Update()->packet()->payload();
  REQUIRE(!traced.empty());
  CHECK(sent->Get(0) == (traced[0] ^ 0xff));
  r.send_task(1, r.replica.digest());  // (no vote for round 0: the model is unchanged)
  REQUIRE(Rig::pump(e));
  CHECK(r.coord.next_type() == Body::Skip);
}

TEST_CASE("edge client: the Join carries the moments of the training rows only, the hold-out cut away") {
  Rig r;
  const auto data = test::synthetic(40, 16, 4);
  EdgeConfig cfg = r.config();
  cfg.holdout = 0.25;
  EdgeClient e(cfg, r.ctx, data);
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  const wire::Join* j = r.coord.last()->body_as_Join();
  CHECK(j->samples() == 30);
  CHECK(j->moments_count() == 30);
  REQUIRE(j->moments_sum()->size() == 16);
  REQUIRE(j->moments_sum_sq()->size() == 16);
  // Below the sums over all 40 rows: the 10 held-out rows (values > 0) are not in them.
  const data::FeatureMoments all = data::feature_moments(*data);
  for (std::size_t f = 0; f < 16; ++f) {
    CHECK(j->moments_sum()->Get(f) < all.sum[f]);
    CHECK(j->moments_sum_sq()->Get(f) < all.sum_sq[f]);
  }
}

namespace {
void send_input_stats(Rig& r, float std0) {
  fb::FlatBufferBuilder fbb(256);
  std::vector<float> mean(16, 0.5f), sd(16, 0.25f);
  sd[0] = std0;
  r.send(fbb, wire::CreateInputStats(fbb, fbb.CreateVector(mean), fbb.CreateVector(sd)));
}
void send_pending_welcome(Rig& r) {
  fb::FlatBufferBuilder fbb(256);
  r.send(fbb, wire::CreateWelcome(fbb, wire::kProtocolVersion, 4, fbb.CreateString("run"), fbb.CreateString(test::kSpec),
                                  r.model->num_params(), 5, /*standardise=*/true, 0.0f, 1.0f, wire::Init::he, 0, 0,
                                  /*input_stats_pending=*/true));
}
}  // namespace

TEST_CASE("edge client: while the run's input statistics are pending it trains nothing, then trains on InputStats") {
  Rig r;
  EdgeClient e(r.config(), r.ctx, test::synthetic(40, 16, 4));
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  send_pending_welcome(r);
  REQUIRE(Rig::pump(e));
  r.send_task(0, r.replica.digest());
  REQUIRE(Rig::pump(e));
  CHECK(r.coord.next_type(300) != Body::Update);  // ignored: no statistics yet
  send_input_stats(r, 0.25f);
  REQUIRE(Rig::pump(e));
  r.send_task(0, r.replica.digest());
  REQUIRE(Rig::pump(e));
  Body b = r.coord.next_type();
  while (b == Body::Heartbeat) b = r.coord.next_type();
  CHECK(b == Body::Update);
}

TEST_CASE("edge client: InputStats with a zero std (or the wrong size) stops the client with an error") {
  Rig r;
  EdgeClient e(r.config(), r.ctx, test::synthetic(40, 16, 4));
  e.start();
  REQUIRE(r.coord.next_type() == Body::Join);
  send_pending_welcome(r);
  REQUIRE(Rig::pump(e));
  send_input_stats(r, 0.0f);
  CHECK_FALSE(Rig::pump(e));
  CHECK(e.exit_code() == 1);
}
