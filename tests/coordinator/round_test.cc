// A whole federation driven through net::MemoryTransport and net::ManualClock:
// no socket, no thread, no sleep. Three scripted clients join; in round 0 two
// send valid updates, one of them a duplicate, the third a packet of the wrong
// size, and a stranger sends garbage; the round closes at its deadline (the
// manual clock jumps there), votes over the two counted updates and
// broadcasts. In round 1 a client's round-0 update arrives late. The test
// reads every reply the coordinator sent and the SQLite log it wrote.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/coordinator.h"
#include "core/methods/encoder.h"
#include "core/codec/packet.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/model/model.h"
#include "net/memory_transport.h"
#include "tests/support/sql_query.h"
#include "tests/support/temp_db.h"
#include "tests/support/wire_messages.h"

using namespace signfed;

namespace {

constexpr const char* kModel = "mlp:784-8-10";

double q(const std::string& db, const std::string& sql) { return test::query_number(db, sql); }

// Client k's gradient signs: a fixed ternary pattern per client.
std::vector<float> pattern(std::size_t n, int k) {
  std::vector<float> g(n);
  for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(static_cast<int>((i * (k + 2) + k) % 3) - 1);
  return g;
}

// A run the scripted clients below can drive: no evaluation, raw inputs (no
// dataset statistics to compute), a small MLP.
coord::CoordinatorConfig scripted_config(const std::string& db, std::uint32_t clients, std::uint32_t rounds) {
  coord::CoordinatorConfig cfg;
  cfg.db_path = db;
  cfg.quiet = true;
  cfg.clients = clients;
  cfg.rounds = rounds;
  cfg.model = kModel;
  cfg.eval_every = 0;
  cfg.standardise = false;
  return cfg;
}

// The verified envelope of a frame the coordinator sent.
const wire::Envelope& envelope_of(const std::vector<std::uint8_t>& bytes) {
  std::string why;
  const wire::Envelope* e = wire::verify_envelope(bytes, &why);
  REQUIRE_MESSAGE(e != nullptr, why);
  return *e;
}

struct Reply {
  wire::Body type;
  std::vector<std::uint8_t> bytes;
  const wire::Envelope& env() const { return envelope_of(bytes); }
};

// The scripted fleet: reacts to what the coordinator sent whenever the
// transport runs dry.
struct Fleet {
  Fleet(net::MemoryTransport& transport, std::size_t num_params) : t(transport), n(num_params) {}
  net::MemoryTransport& t;
  std::size_t n;
  std::map<std::string, std::uint32_t> id;             // peer -> client id from Welcome
  std::map<std::string, std::vector<Reply>> inbox;     // peer -> everything received
  std::map<std::string, std::vector<std::uint32_t>> tasks_answered;
  bool joined = false;

  codec::SignPacket packet_of(int k) const { return codec::encode_ternary_best(codec::ternary_signs(pattern(n, k))); }

  void step() {
    for (auto& f : t.take_sent()) {
      const wire::Envelope* e = &envelope_of(f.bytes);
      if (e->body_type() == wire::Body::Welcome) id[f.peer] = e->body_as_Welcome()->client_id();
      inbox[f.peer].push_back({e->body_type(), f.bytes});
    }
    if (!joined) {
      for (const char* p : {"pa", "pb", "pc"})
        t.deliver(p, test::join_message(std::string(p).substr(1), kModel, n, "scripted"));
      joined = true;
      return;
    }
    for (const std::string p : {"pa", "pb", "pc"}) {
      for (const Reply& r : inbox[p]) {
        if (r.type != wire::Body::RoundTask) continue;
        const std::uint32_t round = r.env().body_as_RoundTask()->round();
        auto& done = tasks_answered[p];
        if (std::find(done.begin(), done.end(), round) != done.end()) continue;
        done.push_back(round);
        const int k = p == "pa" ? 0 : p == "pb" ? 1 : 2;
        if (round == 0 && p == "pc") {  // wrong size: rejected, and c never sends a good one this round
          const codec::SignPacket wrong = codec::encode_ternary_best(codec::ternary_signs(pattern(n + 1, k)));
          t.deliver(p, test::update_message(round, id[p], wrong));
          t.deliver("px", {1, 2, 3, 4, 5, 6, 7, 8});  // a stranger's garbage
          continue;
        }
        t.deliver(p, test::update_message(round, id[p], packet_of(k)));
        if (round == 0 && p == "pb") t.deliver(p, test::update_message(round, id[p], packet_of(k)));  // duplicate
        if (round == 1 && p == "pa") t.deliver(p, test::update_message(0, id[p], packet_of(k)));  // late
      }
    }
  }

  std::vector<wire::ErrorCode> errors(const std::string& peer) {
    std::vector<wire::ErrorCode> out;
    for (const Reply& r : inbox[peer])
      if (r.type == wire::Body::Error) out.push_back(r.env().body_as_Error()->code());
    return out;
  }
  std::size_t count(const std::string& peer, wire::Body type) {
    return static_cast<std::size_t>(
        std::count_if(inbox[peer].begin(), inbox[peer].end(), [&](const Reply& r) { return r.type == type; }));
  }
};

}  // namespace

TEST_CASE("round core: join, task, updates, a duplicate, a bad one, a late one, close at the deadline, vote, broadcast") {
  test::TempDb db;
  coord::CoordinatorConfig cfg = scripted_config(db.path, 3, 2);
  cfg.seed = 5;
  cfg.round_timeout_ms = 1000;
  cfg.policy = coord::parse_policy("deadline");
  cfg.step_size = 0.01f;

  auto clock = std::make_unique<net::ManualClock>();
  net::ManualClock& clk = *clock;
  auto transport = std::make_unique<net::MemoryTransport>(clk);
  net::MemoryTransport& t = *transport;
  const auto model = model::make_model(kModel, cfg.seed);
  Fleet fleet(t, model->num_params());
  t.on_idle = [&] { fleet.step(); };

  coord::Coordinator c(cfg, std::move(transport), std::move(clock));
  const coord::RunSummary s = c.run();
  fleet.step();  // collect the last replies
  REQUIRE(s.status == "completed");
  CHECK(s.rounds_done == 2);

  // Every client: Welcome, two tasks, two results, Bye.
  for (const char* p : {"pa", "pb", "pc"}) {
    CHECK(fleet.count(p, wire::Body::Welcome) == 1);
    CHECK(fleet.count(p, wire::Body::RoundTask) == 2);
    CHECK(fleet.count(p, wire::Body::VoteResult) == 2);
    CHECK(fleet.count(p, wire::Body::Bye) == 1);
  }
  // The Error replies, each to the client that earned it.
  CHECK(fleet.errors("pb") == std::vector{wire::ErrorCode::duplicate_update});
  CHECK(fleet.errors("pc") == std::vector{wire::ErrorCode::wrong_size});
  CHECK(fleet.errors("px") == std::vector{wire::ErrorCode::bad_message});
  CHECK(fleet.errors("pa") == std::vector{wire::ErrorCode::wrong_round});

  // Round 0's result is the vote of a and b only (sign of the sum, 0 on a tie),
  // and its digest is the initial model moved by it.
  const Reply* r0 = nullptr;
  for (const Reply& r : fleet.inbox["pc"])
    if (r.type == wire::Body::VoteResult && r.env().body_as_VoteResult()->round() == 0) r0 = &r;
  REQUIRE(r0 != nullptr);
  const wire::VoteResult& v0 = *r0->env().body_as_VoteResult();
  CHECK(v0.voters() == 2);
  const codec::TernarySigns got = codec::decode_ternary(codec::view_of(*v0.packet()));
  const std::vector<float> a = pattern(fleet.n, 0), b = pattern(fleet.n, 1);
  std::vector<float> x(model->params().begin(), model->params().end());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < fleet.n; ++i) {
    const float sum = a[i] + b[i];
    const int want = sum > 0 ? 1 : sum < 0 ? -1 : 0;
    mismatches += got.at(static_cast<std::uint32_t>(i)) != want;
    x[i] = x[i] - 0.01f * static_cast<float>(want);
  }
  CHECK(mismatches == 0);
  CHECK(v0.new_digest() == codec::model_digest(x, codec::architecture_basis(model->spec())));

  // The log: round 0 closed at its deadline on the manual clock with 2 of 3
  // counted; round 1 closed as soon as all three answered, and logged the late one.
  const std::string& p = db.path;
  CHECK(q(p, "SELECT received FROM rounds WHERE round=0") == 2);
  CHECK(q(p, "SELECT ended_at - started_at FROM rounds WHERE round=0") == doctest::Approx(1.0).epsilon(0.01));
  CHECK(q(p, "SELECT received FROM rounds WHERE round=1") == 3);
  CHECK(q(p, "SELECT ended_at - started_at FROM rounds WHERE round=1") < 0.5);
  CHECK(q(p, "SELECT late FROM rounds WHERE round=1") == 1);
  CHECK(q(p, "SELECT COUNT(*) FROM updates WHERE round=0 AND status='counted'") == 2);
  CHECK(q(p, "SELECT COUNT(*) FROM updates WHERE round=0 AND status='rejected'") == 2);  // duplicate, wrong size
  CHECK(q(p, "SELECT COUNT(*) FROM updates WHERE round=0 AND status='late'") == 1);
  CHECK(q(p, "SELECT COUNT(*) FROM events WHERE kind='bad_message'") == 1);
}

TEST_CASE("guarded step: a client that joins while the step is undecided gets the decided model, not the tentative one") {
  // Safaryan Alg. 1 Option 2: after the vote the model is tentative until the
  // participants' GuardReports decide. Here they report a higher loss after
  // the step, so it is rolled back; a client joining in between must receive
  // the rolled-back model (before: a snapshot of the tentative one).
  test::TempDb db;
  coord::CoordinatorConfig cfg = scripted_config(db.path, 2, 2);
  cfg.guarded_step = true;
  cfg.step_size = 0.01f;

  auto clock = std::make_unique<net::ManualClock>();
  auto transport = std::make_unique<net::MemoryTransport>(*clock);
  net::MemoryTransport& t = *transport;
  const std::size_t n = model::make_model(kModel, cfg.seed)->num_params();
  std::map<std::string, std::uint32_t> id;
  std::vector<net::MemoryTransport::Frame> to_d;  // what the late joiner received
  std::uint64_t decided = 0;
  bool joined = false, d_joined = false;
  std::set<std::pair<std::string, std::uint32_t>> answered;
  t.on_idle = [&] {
    for (auto& f : t.take_sent()) {
      const wire::Envelope* e = &envelope_of(f.bytes);
      if (f.peer == "pd") to_d.push_back(f);
      switch (e->body_type()) {
        case wire::Body::Welcome:
          id[f.peer] = e->body_as_Welcome()->client_id();
          break;
        case wire::Body::RoundTask: {
          const std::uint32_t r = e->body_as_RoundTask()->round();
          if (!answered.insert({f.peer, r}).second) break;
          const auto p = codec::encode_ternary_best(codec::ternary_signs(pattern(n, f.peer == "pa" ? 0 : 1)));
          t.deliver(f.peer, test::update_message(r, id[f.peer], p));
          break;
        }
        case wire::Body::VoteResult: {
          const auto* v = e->body_as_VoteResult();
          if (f.peer != "pa" || !v->guarded()) break;
          if (v->round() == 1 && !d_joined) {  // the model has moved: a joiner needs a snapshot
            t.deliver("pd", test::join_message("d", kModel, n, "late"));
            d_joined = true;
          }
          for (const char* p : {"pa", "pb"}) {  // the loss rose: roll back
            flatbuffers::FlatBufferBuilder fbb;
            t.deliver(p, test::finish(fbb, wire::CreateGuardReport(fbb, v->round(), id[p], 1.0f, 2.0f)));
          }
          break;
        }
        case wire::Body::GuardDecision:
          if (f.peer == "pa") decided = e->body_as_GuardDecision()->model_digest();
          break;
        default:
          break;
      }
    }
    if (!joined) {
      for (const char* p : {"pa", "pb"}) t.deliver(p, test::join_message(std::string(p).substr(1), kModel, n, "s"));
      joined = true;
    }
  };
  // Both rounds' steps are rolled back; in round 1 the tentative model differs
  // from the initial one, so the joiner needs a snapshot, and it must be the
  // rolled-back (initial) model.
  coord::Coordinator c(cfg, std::move(transport), std::move(clock));
  const coord::RunSummary s = c.run();
  t.on_idle();
  REQUIRE(s.status == "completed");
  REQUIRE(d_joined);
  CHECK(q(db.path, "SELECT guard_kept FROM rounds WHERE round=1") == 0);
  std::uint64_t snapshot_digest = 0;
  std::size_t snapshots = 0;
  for (const auto& f : to_d) {
    const wire::Envelope& e = envelope_of(f.bytes);
    if (e.body_type() == wire::Body::ModelSnapshot) snapshot_digest = e.body_as_ModelSnapshot()->digest(), ++snapshots;
  }
  REQUIRE(snapshots >= 1);
  CHECK(decided != 0);
  CHECK(snapshot_digest == decided);
}

TEST_CASE("stragglers in real time, on the manual clock: adaptive:0.5 learns a deadline and a slow client becomes late") {
  // a and b answer 100 ms after their task, c after 600 ms. Round 0 has no
  // history, so its deadline is --round-timeout (1 s) and all three count;
  // from round 1 the deadline is 1.2 x the median of recent latencies
  // (120 ms), so c is late. Time is the manual clock: no sleeping.
  test::TempDb db;
  // 8 rounds: c's round-1 update arrives (late) while a later round is open.
  coord::CoordinatorConfig cfg = scripted_config(db.path, 3, 8);
  cfg.round_timeout_ms = 1000;
  cfg.policy = coord::parse_policy("adaptive:0.5");

  auto clock = std::make_unique<net::ManualClock>();
  net::ManualClock& clk = *clock;
  auto transport = std::make_unique<net::MemoryTransport>(clk);
  net::MemoryTransport& t = *transport;
  const std::size_t n = model::make_model(kModel, cfg.seed)->num_params();
  std::map<std::string, std::uint32_t> id;
  bool joined = false;
  t.on_idle = [&] {
    for (auto& f : t.take_sent()) {
      const wire::Envelope* e = &envelope_of(f.bytes);
      if (e->body_type() == wire::Body::Welcome) id[f.peer] = e->body_as_Welcome()->client_id();
      if (e->body_type() != wire::Body::RoundTask) continue;
      const std::uint32_t r = e->body_as_RoundTask()->round();
      const int k = f.peer == "pa" ? 0 : f.peer == "pb" ? 1 : 2;
      const auto p = codec::encode_ternary_best(codec::ternary_signs(pattern(n, k)));
      t.deliver_at(clk.now_s() + (f.peer == "pc" ? 0.6 : 0.1), f.peer, test::update_message(r, id[f.peer], p));
    }
    if (!joined) {
      for (const char* p : {"pa", "pb", "pc"}) t.deliver(p, test::join_message(std::string(p).substr(1), kModel, n, "s"));
      joined = true;
    }
  };
  coord::Coordinator c(cfg, std::move(transport), std::move(clock));
  REQUIRE(c.run().status == "completed");
  const std::string& p = db.path;
  CHECK(q(p, "SELECT received FROM rounds WHERE round=0") == 3);
  CHECK(q(p, "SELECT ended_at - started_at FROM rounds WHERE round=0") == doctest::Approx(0.6).epsilon(0.01));
  CHECK(q(p, "SELECT received FROM rounds WHERE round=1") == 2);
  CHECK(q(p, "SELECT ended_at - started_at FROM rounds WHERE round=1") == doctest::Approx(0.12).epsilon(0.01));
  CHECK(q(p, "SELECT COUNT(*) FROM updates WHERE round=1 AND client_id=2 AND status='late'") == 1);
  CHECK(q(p, "SELECT MAX(latency_ms) FROM updates WHERE status='counted' AND round=0") == doctest::Approx(600).epsilon(0.01));
}

TEST_CASE("stop token: interrupted while collecting, then while a guarded step awaits confirmation - resumed to the end") {
  // The stop token (set by SIGINT/SIGTERM in the binaries) ends every wait;
  // the round it interrupts is not logged, the run is 'interrupted', and
  // --resume replays that round from the last checkpoint.
  test::TempDb db;
  coord::CoordinatorConfig cfg = scripted_config(db.path, 2, 4);
  cfg.guarded_step = true;
  cfg.step_size = 0.01f;
  const std::size_t n = model::make_model(kModel, cfg.seed)->num_params();

  enum class StopIn { collecting, confirming, never };
  auto play = [&](StopIn stop_in, std::uint32_t stop_round, bool resume) {
    std::atomic<bool> stop{false};
    auto clock = std::make_unique<net::ManualClock>();
    auto transport = std::make_unique<net::MemoryTransport>(*clock);
    net::MemoryTransport& t = *transport;
    std::map<std::string, std::uint32_t> id;
    std::set<std::pair<std::string, std::uint32_t>> answered;
    bool joined = false;
    t.on_idle = [&] {
      for (auto& f : t.take_sent()) {
        const wire::Envelope* e = &envelope_of(f.bytes);
        if (e->body_type() == wire::Body::Welcome) id[f.peer] = e->body_as_Welcome()->client_id();
        if (e->body_type() == wire::Body::RoundTask) {
          const std::uint32_t r = e->body_as_RoundTask()->round();
          if (!answered.insert({f.peer, r}).second) continue;
          if (stop_in == StopIn::collecting && r == stop_round && f.peer == "pb") {
            stop = true;  // pa has answered, pb has not
            continue;
          }
          const auto p = codec::encode_ternary_best(codec::ternary_signs(pattern(n, f.peer == "pa" ? 0 : 1)));
          t.deliver(f.peer, test::update_message(r, id[f.peer], p));
        }
        if (e->body_type() == wire::Body::VoteResult && f.peer == "pa") {
          const auto* v = e->body_as_VoteResult();
          if (stop_in == StopIn::confirming && v->round() == stop_round) {
            stop = true;  // the step is applied, its confirmation pending
            continue;
          }
          for (const char* p : {"pa", "pb"}) {
            flatbuffers::FlatBufferBuilder fbb;
            t.deliver(p, test::finish(fbb, wire::CreateGuardReport(fbb, v->round(), id[p], 1.0f, 0.5f)));
          }
        }
      }
      if (!joined) {
        for (const char* p : {"pa", "pb"}) t.deliver(p, test::join_message(std::string(p).substr(1), kModel, n, "s"));
        joined = true;
      }
    };
    coord::CoordinatorConfig c_cfg = cfg;
    c_cfg.resume = resume;
    coord::Coordinator c(c_cfg, std::move(transport), std::move(clock), &stop);
    return c.run();
  };

  coord::RunSummary s = play(StopIn::collecting, 0, false);
  CHECK(s.status == "interrupted");
  CHECK(s.rounds_done == 0);
  CHECK(q(db.path, "SELECT COUNT(*) FROM rounds") == 0);
  CHECK(test::query_text(db.path, "SELECT status FROM runs") == "interrupted");

  s = play(StopIn::confirming, 1, true);
  CHECK(s.status == "interrupted");
  CHECK(s.rounds_done == 1);
  CHECK(q(db.path, "SELECT COUNT(*) FROM rounds") == 1);  // round 1 was not confirmed: not logged
  CHECK(test::query_text(db.path, "SELECT status FROM runs") == "interrupted");

  s = play(StopIn::never, 0, true);
  CHECK(s.status == "completed");
  CHECK(s.rounds_done == 4);
  CHECK(q(db.path, "SELECT COUNT(*) FROM runs") == 1);
  CHECK(q(db.path, "SELECT resumes FROM runs") == 2);
  CHECK(q(db.path, "SELECT COUNT(DISTINCT round) FROM rounds WHERE round BETWEEN 0 AND 3") == 4);
  CHECK(q(db.path, "SELECT COUNT(*) FROM rounds WHERE guard_kept = 1") == 4);
  CHECK(test::query_text(db.path, "SELECT status FROM runs") == "completed");
}
