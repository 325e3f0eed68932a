// Session: the Join / Heartbeat traffic and the rejoin and give-up timers,
// driven by a fake clock against a fake coordinator (no sleeps).
#include <doctest/doctest.h>

#include <atomic>

#include "edge/session.h"
#include "net/clock.h"
#include "tests/edge/fake_coordinator.h"

using namespace signfed;
using namespace signfed::edge;
using wire::Body;

namespace {

struct Rig {
  zmq::context_t ctx;
  test::FakeCoordinator coord{ctx, "inproc://session-test"};
  Log log{"s", true};
  net::ManualClock clock;
  std::atomic<bool> stop{false};
  SessionConfig cfg{.endpoint = "inproc://session-test",
                    .name = "s",
                    .heartbeat_ms = 1000,
                    .rejoin_after_ms = 4000,
                    .give_up_after_ms = 20000,
                    .insecure = true,
                    .curve_key_file = {},
                    .server_key_file = {}};
  Session s{cfg, ctx, log, &stop, clock};

  // The coordinator says something (a heartbeat) and the session reads it.
  void hear() {
    flatbuffers::FlatBufferBuilder fbb(64);
    coord.send(wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb)));
    zmq::pollitem_t items[] = {{s.socket().handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(2000));
    CHECK(s.receive().size() == 1);
  }
  const std::vector<std::uint8_t> join = [] {
    flatbuffers::FlatBufferBuilder fbb(128);
    const auto b = wire::finish_envelope(fbb, wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString("s")));
    return std::vector<std::uint8_t>(b.begin(), b.end());
  }();
};

}  // namespace

TEST_CASE("session: Join on start, heartbeats every interval, Join re-sent every 3 s until welcomed") {
  Rig r;
  CHECK(r.s.state() == Session::State::idle);
  r.s.start([&r] { return r.join; });
  CHECK(r.s.state() == Session::State::waiting_welcome);
  CHECK(r.coord.next_type() == Body::Join);
  r.clock.advance(0.5);
  CHECK(r.s.tick());
  CHECK(r.coord.next_type(50) == Body::NONE);  // nothing due yet
  r.clock.advance(0.6);                                 // 1.1 s: a heartbeat
  CHECK(r.s.tick());
  CHECK(r.coord.next_type() == Body::Heartbeat);
  CHECK(r.coord.last()->body_as_Heartbeat()->client_id() == 0);
  r.clock.advance(2.0);  // 3.1 s since the Join, no Welcome: knock again
  CHECK(r.s.tick());
  CHECK(r.coord.next_type() == Body::Heartbeat);
  CHECK(r.coord.next_type() == Body::Join);
  r.s.welcomed(7);
  r.s.sent_update(3);
  CHECK(r.s.state() == Session::State::joined);
  r.clock.advance(1.1);
  CHECK(r.s.tick());
  CHECK(r.coord.next_type() == Body::Heartbeat);
  CHECK(r.coord.last()->body_as_Heartbeat()->client_id() == 7);
  CHECK(r.coord.last()->body_as_Heartbeat()->round() == 3);
  r.hear();
  r.clock.advance(3.5);  // joined: no more Joins, only heartbeats; 3.5 s of silence is not yet a rejoin
  CHECK(r.s.tick());
  CHECK(r.coord.next_type() == Body::Heartbeat);
  CHECK(r.coord.next_type(50) == Body::NONE);
}

TEST_CASE("session: silence beyond rejoin_after rejoins, beyond give_up_after finishes with 1") {
  Rig r;
  r.s.start([&r] { return r.join; });
  CHECK(r.coord.next_type() == Body::Join);
  r.s.welcomed(2);
  r.clock.advance(4.5);
  CHECK(r.s.tick());
  CHECK(r.s.state() == Session::State::waiting_welcome);
  CHECK(!r.s.client_id());
  CHECK(r.coord.next_type() == Body::Heartbeat);
  CHECK(r.coord.next_type() == Body::Join);
  r.clock.advance(16.0);  // 20.5 s of silence
  CHECK(!r.s.tick());
  CHECK(r.s.state() == Session::State::finished);
  CHECK(r.s.exit_code() == 1);
}

TEST_CASE("session: the stop token finishes with 130, rejoin() after finish stays finished") {
  Rig r;
  r.s.start([&r] { return r.join; });
  r.stop = true;
  CHECK(!r.s.tick());
  CHECK(r.s.exit_code() == 130);
  r.s.rejoin();
  CHECK(r.s.state() == Session::State::finished);
}

TEST_CASE("session: a secure config without key files is refused") {
  zmq::context_t ctx;
  Log log{"s", true};
  SessionConfig c;
  c.endpoint = "inproc://nowhere";
  c.insecure = false;
  CHECK_THROWS_AS(Session(c, ctx, log), std::invalid_argument);
}
