// The relay's side toward its children, in-process: a real Coordinator and
// a real Relay on their own threads over inproc://, and two raw DEALER
// children driven by the test: an honest one (valid dense packets) and a
// hostile one (garbage, updates before joining, for a round it was not given,
// a TallyUpdate though it is no relay, a wrong size, a duplicate). The relay
// answers each bad frame with the coordinator's error codes, counts only the
// valid update, and the run completes with the honest child's rows logged.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "coordinator/coordinator.h"
#include "core/codec/packet.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/methods/tally.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "relay/relay.h"
#include "schema/wire.h"
#include "tests/e2e/process.h"
#include "tests/support/sql_query.h"
#include "tests/support/wire_messages.h"

using namespace signfed;
using namespace signfed::test;

namespace {

constexpr std::uint32_t kDim = 46;  // mlp:8-4-2

// An aligned copy of a received message kept in `frames` (the envelope
// points into it: at most 1024, reserved, so no reallocation), verified.
const wire::Envelope* keep_verified(std::vector<std::vector<std::uint64_t>>& frames, const zmq::message_t& m) {
  frames.reserve(1024);
  REQUIRE(frames.size() < 1024);
  frames.emplace_back((m.size() + 7) / 8);
  std::memcpy(frames.back().data(), m.data(), m.size());
  std::string why;
  const wire::Envelope* e =
      wire::verify_envelope({reinterpret_cast<const std::uint8_t*>(frames.back().data()), m.size()}, &why);
  REQUIRE_MESSAGE(e != nullptr, why);
  return e;
}

// A raw child: one DEALER, and what it has received, verified, each message
// taken once by wait_for (in arrival order per type).
struct Child {
  zmq::socket_t sock;
  std::vector<std::vector<std::uint64_t>> frames;  // aligned copies
  std::vector<const wire::Envelope*> got;
  std::vector<bool> taken;

  Child(zmq::context_t& ctx, const std::string& endpoint) : sock(ctx, zmq::socket_type::dealer) {
    sock.set(zmq::sockopt::linger, 0);
    sock.connect(endpoint);
  }
  void send(const Bytes& b) { (void)sock.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::dontwait); }
  // The first message of `type` not taken yet, waiting up to 20 s for it.
  const wire::Envelope* wait_for(wire::Body type) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::size_t next = 0;
    while (true) {
      for (; next < got.size(); ++next)
        if (!taken[next] && got[next]->body_type() == type) {
          taken[next] = true;
          return got[next];
        }
      if (std::chrono::steady_clock::now() >= end) return nullptr;
      zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      zmq::message_t m;
      if (!(item.revents & ZMQ_POLLIN) || !sock.recv(m, zmq::recv_flags::dontwait)) continue;
      got.push_back(keep_verified(frames, m));
      taken.push_back(false);
    }
  }
  // The next Error's code (within 20 s).
  std::optional<wire::ErrorCode> next_error() {
    const wire::Envelope* e = wait_for(wire::Body::Error);
    if (!e) return std::nullopt;
    return e->body_as_Error()->code();
  }
};

Bytes update(std::uint32_t round, std::uint32_t id, std::uint32_t dim = kDim) {
  return update_message(round, id, codec::make_dense_packet(dim, Bytes((dim + 7) / 8, 0x15), 1.0f));
}

}  // namespace

TEST_CASE("relay: children's bad frames are refused with the coordinator's error codes and only valid updates count") {
  TempDir dir;
  zmq::context_t ctx;
  coord::CoordinatorConfig cfg;
  cfg.endpoint = "inproc://coordinator";
  cfg.db_path = dir.path + "/run.sqlite";
  cfg.model = "mlp:8-4-2";
  cfg.clients = 1;
  cfg.rounds = 2;
  cfg.eval_every = 0;
  cfg.central_test = false;
  cfg.standardise = false;
  cfg.round_timeout_ms = 20000;
  cfg.quiet = true;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  struct Joiner {  // a failed REQUIRE still stops and joins the threads
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      for (auto& t : threads)
        if (t.joinable()) stop.store(true), t.join();
    }
  } joiner{stop, threads};
  coord::RunSummary summary;
  threads.emplace_back([&] {
    coord::Coordinator c(cfg, ctx, &stop);
    summary = c.run();
  });
  relay::RelayConfig rc;
  rc.parent = cfg.endpoint;
  rc.bind = "inproc://relay";
  rc.name = "relay-0";
  rc.clients = 1;
  rc.quiet = true;
  int relay_rc = -1;
  threads.emplace_back([&] {
    relay::Relay r(rc, ctx, &stop);
    relay_rc = r.run();
  });

  Child good(ctx, rc.bind), bad(ctx, rc.bind);
  // Before joining: garbage, then an update.
  bad.send(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(bad.next_error() == wire::ErrorCode::bad_message);
  bad.send(update(0, 0));
  CHECK(bad.next_error() == wire::ErrorCode::unknown_client);

  good.send(join_message("good", "mlp:8-4-2", kDim, "test"));
  const wire::Envelope* w = good.wait_for(wire::Body::Welcome);
  REQUIRE(w != nullptr);
  const std::uint32_t good_id = w->body_as_Welcome()->client_id();
  CHECK(w->body_as_Welcome()->model_spec()->str() == "mlp:8-4-2");
  REQUIRE(good.wait_for(wire::Body::RoundTask) != nullptr);  // round 0: the relay waited for its one child

  // The hostile child joins now: not given round 0.
  bad.send(join_message("bad", "mlp:8-4-2", kDim, "test"));
  w = bad.wait_for(wire::Body::Welcome);
  REQUIRE(w != nullptr);
  const std::uint32_t bad_id = w->body_as_Welcome()->client_id();
  CHECK(bad_id != good_id);
  bad.send(update(0, bad_id));
  CHECK(bad.next_error() == wire::ErrorCode::not_selected);
  {
    methods::VoteTally t(kDim);
    flatbuffers::FlatBufferBuilder fbb;
    bad.send(finish(fbb, wire::CreateTallyUpdate(fbb, 0, bad_id, fbb.CreateVector(methods::encode_tally(t)))));
    CHECK(bad.next_error() == wire::ErrorCode::bad_message);
  }
  // The honest child: another's id, a wrong size, then its update, then a duplicate.
  good.send(update(0, bad_id));
  CHECK(good.next_error() == wire::ErrorCode::bad_message);
  good.send(update(0, good_id, kDim + 8));
  CHECK(good.next_error() == wire::ErrorCode::wrong_size);
  good.send(update(0, good_id));
  const wire::Envelope* vr = good.wait_for(wire::Body::VoteResult);
  REQUIRE(vr != nullptr);
  CHECK(vr->body_as_VoteResult()->round() == 0);
  CHECK(vr->body_as_VoteResult()->voters() == 1);
  good.send(update(0, good_id));
  CHECK(good.next_error() == wire::ErrorCode::wrong_round);  // the round closed: late

  // Round 1: both are given it; the hostile child skips, the honest one answers.
  REQUIRE(good.wait_for(wire::Body::RoundTask) != nullptr);
  REQUIRE(bad.wait_for(wire::Body::RoundTask) != nullptr);
  {
    flatbuffers::FlatBufferBuilder fbb;
    bad.send(finish(fbb, wire::CreateSkip(fbb, 1, bad_id, fbb.CreateString("battery low"))));
  }
  good.send(update(1, good_id));
  vr = good.wait_for(wire::Body::VoteResult);
  REQUIRE(vr != nullptr);
  CHECK(vr->body_as_VoteResult()->voters() == 1);
  CHECK(good.wait_for(wire::Body::Bye) != nullptr);
  CHECK(bad.wait_for(wire::Body::Bye) != nullptr);

  threads[1].join();  // the relay (after the coordinator's Bye)
  threads[0].join();
  CHECK(relay_rc == 0);
  CHECK(summary.status == "completed");
  CHECK(summary.rounds_done == 2);
  const std::string db = cfg.db_path;
  auto rows = [&](const std::string& name, const std::string& status) {
    return query_number(db, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) WHERE c.name='" +
                                name + "' AND u.status='" + status + "'");
  };
  CHECK(rows("good", "counted") == 2);
  CHECK(rows("bad", "counted") == 0);
  CHECK(rows("bad", "skipped") == 1);
  CHECK(rows("bad", "rejected") >= 2);  // not selected, not a relay
  CHECK(rows("good", "rejected") >= 2);  // another's id, wrong size
  CHECK(query_number(db, "SELECT SUM(received) FROM rounds") == 2);
}

TEST_CASE("relay: a relay refused by its parent (--aggregate median) stops with exit code 1") {
  TempDir dir;
  zmq::context_t ctx;
  coord::CoordinatorConfig cfg;
  cfg.endpoint = "inproc://coordinator";
  cfg.db_path = dir.path + "/run.sqlite";
  cfg.model = "mlp:8-4-2";
  cfg.method.method = wire::Method::fedsgd;
  cfg.aggregate.rule = methods::AggregateRule::median;
  cfg.clients = 1;
  cfg.rounds = 1;
  cfg.eval_every = 0;
  cfg.central_test = false;
  cfg.standardise = false;
  cfg.quiet = true;
  std::atomic<bool> stop{false};
  std::thread coordinator([&] {
    try {
      coord::Coordinator c(cfg, ctx, &stop);
      c.run();
    } catch (const std::exception&) {
    }
  });
  relay::RelayConfig rc;
  rc.parent = cfg.endpoint;
  rc.bind = "inproc://relay";
  rc.quiet = true;
  int relay_rc = -1;
  {
    relay::Relay r(rc, ctx);
    relay_rc = r.run();  // returns once the parent's Error arrives
  }
  stop.store(true);
  coordinator.join();
  CHECK(relay_rc == 1);
  CHECK(query_number(cfg.db_path, "SELECT COUNT(*) FROM clients") == 0);
}

namespace {

// A parent played by the test: one ROUTER; what the relay sends, verified.
struct FakeParent {
  zmq::socket_t sock;
  std::string relay;  // the relay's routing id, from its first message
  std::vector<std::vector<std::uint64_t>> frames;
  std::vector<wire::Body> seen;  // the type of every message received

  FakeParent(zmq::context_t& ctx, const std::string& endpoint) : sock(ctx, zmq::socket_type::router) {
    sock.set(zmq::sockopt::linger, 0);
    sock.bind(endpoint);
  }
  // The next message of `type` from the relay within 20 s (others are dropped).
  const wire::Envelope* wait_for(wire::Body type) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < end) {
      zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      zmq::message_t id, m;
      if (!(item.revents & ZMQ_POLLIN) || !sock.recv(id, zmq::recv_flags::dontwait)) continue;
      REQUIRE(sock.recv(m, zmq::recv_flags::none));
      relay = id.to_string();
      const wire::Envelope* e = keep_verified(frames, m);
      seen.push_back(e->body_type());
      if (e->body_type() == type) return e;
    }
    return nullptr;
  }
  void send(const Bytes& b) {
    (void)sock.send(zmq::buffer(relay), zmq::send_flags::sndmore);
    (void)sock.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::none);
  }
};

Bytes round_task(std::uint32_t round, std::uint64_t digest) {
  flatbuffers::FlatBufferBuilder fbb;
  return finish(fbb, wire::CreateRoundTask(fbb, round, digest, wire::CreateMethodParams(fbb), 0.01f, 20000));
}

}  // namespace

TEST_CASE("relay: a task sent again keeps the open round, resends a closed round's tally, and an earlier round opens a new run of its log") {
  TempDir dir;
  zmq::context_t ctx;
  FakeParent parent(ctx, "inproc://parent");
  relay::RelayConfig rc;
  rc.parent = "inproc://parent";
  rc.bind = "inproc://relay-db";
  rc.name = "relay-0";
  rc.clients = 1;
  rc.quiet = true;
  rc.db = dir.path + "/relay.sqlite";
  std::atomic<bool> stop{false};
  int relay_rc = -1;
  std::thread t([&] {
    relay::Relay r(rc, ctx, &stop);
    relay_rc = r.run();
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) stop.store(true), t.join();
    }
  } joiner{stop, t};

  REQUIRE(parent.wait_for(wire::Body::Join) != nullptr);
  const std::uint64_t seed = 7;
  {
    flatbuffers::FlatBufferBuilder fbb;
    parent.send(finish(fbb, wire::CreateWelcome(fbb, wire::kProtocolVersion, 3, fbb.CreateString("run"),
                                                fbb.CreateString("mlp:8-4-2"), kDim, seed)));
  }
  auto model = model::make_model("mlp:8-4-2", seed, model::Init::he);
  const std::uint64_t digest = core::Replica(model->params(), codec::architecture_basis(model->spec())).digest();
  Child child(ctx, rc.bind);
  child.send(join_message("leaf", "mlp:8-4-2", kDim, "test"));
  const wire::Envelope* w = child.wait_for(wire::Body::Welcome);
  REQUIRE(w != nullptr);
  const std::uint32_t id = w->body_as_Welcome()->client_id();
  auto counted_up = [&](const wire::Envelope* e) {
    REQUIRE(e != nullptr);
    const wire::TallyUpdate& tu = *e->body_as_TallyUpdate();
    CHECK(tu.children()->size() == 0);  // the row stays in the relay's log
    REQUIRE(tu.logged_below() != nullptr);
    return tu.logged_below()->counted();
  };

  // Round 0, and its task again while it is open (a parent re-sends it when
  // the relay rejoins): the round goes on and the child's update counts.
  parent.send(round_task(0, digest));
  REQUIRE(child.wait_for(wire::Body::RoundTask) != nullptr);
  parent.send(round_task(0, digest));
  {  // forwarded to the children in order after the second task: once the child has it, the relay read the task
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<float> one(8, 1.0f);
    parent.send(finish(fbb, wire::CreateInputStats(fbb, fbb.CreateVector(one), fbb.CreateVector(one))));
  }
  REQUIRE(child.wait_for(wire::Body::InputStats) != nullptr);
  child.send(update(0, id));
  const wire::Envelope* first = parent.wait_for(wire::Body::TallyUpdate);
  CHECK(counted_up(first) == 1);
  const std::vector<std::uint64_t> first_bytes = parent.frames.back();
  CHECK(first->body_as_TallyUpdate()->client_id() == 3);
  // Closed: the same task again (the relay rejoined and the parent re-sent it): nothing, the tally is on its way.
  parent.send(round_task(0, digest));
  // A parent that restarted: it answers unknown_client; the relay rejoins, and the same task gets the same tally.
  {
    flatbuffers::FlatBufferBuilder fbb;
    parent.send(finish(fbb, wire::CreateError(fbb, wire::ErrorCode::unknown_client, fbb.CreateString("who?"), 0)));
  }
  REQUIRE(parent.wait_for(wire::Body::Join) != nullptr);
  parent.send(round_task(0, digest));
  const wire::Envelope* again = parent.wait_for(wire::Body::TallyUpdate);
  REQUIRE(again != nullptr);
  CHECK(parent.frames.back() == first_bytes);
  // No Welcome yet: round 1's tally still carries the relay's id (the parent keeps a name's id).
  // Round 1, then round 0 again: a parent that resumed from a log which lost its
  // last commits. The relay runs it and logs it in a new run of its log.
  parent.send(round_task(1, digest));
  REQUIRE(child.wait_for(wire::Body::RoundTask) != nullptr);
  child.send(update(1, id));
  const wire::Envelope* r1 = parent.wait_for(wire::Body::TallyUpdate);
  CHECK(counted_up(r1) == 1);
  CHECK(r1->body_as_TallyUpdate()->round() == 1);  // (not a resent round 0: the first re-sent task got none)
  CHECK(r1->body_as_TallyUpdate()->client_id() == 3);
  parent.send(round_task(0, digest));
  const wire::Envelope* task = child.wait_for(wire::Body::RoundTask);
  REQUIRE(task != nullptr);
  CHECK(task->body_as_RoundTask()->round() == 0);
  child.send(update(0, id));
  CHECK(counted_up(parent.wait_for(wire::Body::TallyUpdate)) == 1);
  {
    flatbuffers::FlatBufferBuilder fbb;
    parent.send(finish(fbb, wire::CreateBye(fbb, fbb.CreateString("done"), digest, 2)));
  }
  REQUIRE(child.wait_for(wire::Body::Bye) != nullptr);
  t.join();
  CHECK(relay_rc == 0);
  // Four tallies: round 0, round 0 again to the parent that forgot us, round 1, round 0 as the earlier round.
  CHECK(std::count(parent.seen.begin(), parent.seen.end(), wire::Body::TallyUpdate) == 4);
  // The child got three tasks: round 0, round 1, round 0 again as the earlier round; no re-sent one.
  CHECK(std::count_if(child.got.begin(), child.got.end(),
                      [](const wire::Envelope* e) { return e->body_type() == wire::Body::RoundTask; }) == 3);
  CHECK(query_number(rc.db, "SELECT COUNT(*) FROM runs") == 2);
  CHECK(query_number(rc.db, "SELECT COUNT(*) FROM runs WHERE status='interrupted'") == 1);
  CHECK(query_number(rc.db, "SELECT COUNT(*) FROM runs WHERE status='completed'") == 1);
  CHECK(query_number(rc.db, "SELECT COUNT(*) FROM rounds WHERE received=1") == 3);
  CHECK(query_number(rc.db, "SELECT COUNT(*) FROM updates u JOIN clients c USING(run_id, client_id) WHERE "
                            "c.name='leaf' AND u.status='counted'") == 3);
}
