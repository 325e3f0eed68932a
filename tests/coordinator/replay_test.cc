// The vote log and resume by replay (core/replica/replay.h) on a real SQLite
// file: a live replica's rounds committed with RoundLog, then a fresh replica
// restored from the last checkpoint and replayed must end bit-identical; a
// tampered or missing logged result stops the replay naming the round.
#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <flatbuffers/flatbuffers.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/replica/replay.h"
#include "coordinator/round_log.h"
#include "core/codec/packet.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/replica/replica.h"
#include "tests/support/sql_query.h"

using namespace signfed;
using namespace signfed::coord;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/signfed-replay-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

constexpr std::uint32_t kDim = 1000;
const std::uint64_t kBasis = codec::architecture_basis("replay-test");

std::vector<std::uint8_t> packet_bytes(const codec::SignPacket& p) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(codec::build_packet(fbb, p));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

enum class Kind { signum, fedavg };

// A live run of `rounds` rounds the way the coordinator logs it: every round a
// result row; a checkpoint at the first round and every `every` rounds. Round
// 6 is a guarded step that was rolled back (applied = false). Returns the
// final parameters and momentum of the live replica.
struct Live {
  std::vector<float> params, momentum;
  std::uint64_t digest = 0;
};

Live run_live(const std::string& db, Kind kind, std::uint32_t rounds, std::uint32_t every) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> tern(-1, 1);
  std::vector<float> x(kDim);
  for (float& v : x) v = normal(rng);
  core::Replica live(x, kBasis);
  if (kind == Kind::signum) live.enable_momentum();
  RoundLog log(db);
  const auto run = log.begin_run("{}", rounds, "replay");
  for (std::uint32_t r = 0; r < rounds; ++r) {
    ResultRow res;
    res.round = r;
    res.step = 0.01f / static_cast<float>(r + 1);  // a schedule: not one step for all rounds
    res.applied = true;
    const bool rolled_back = r == 6;
    if (rolled_back) live.save();
    if (kind == Kind::signum) {
      codec::TernarySigns s = codec::TernarySigns::zeros(kDim);
      std::vector<float> v(kDim);
      for (float& e : v) e = static_cast<float>(tern(rng));
      s = codec::ternary_signs(v);
      res.momentum = 0.9f;
      live.apply_signs(s, res.step, res.momentum);  // as VoteStrategy::aggregate does
      res.packet = packet_bytes(codec::encode_ternary_best(s));
    } else {
      std::vector<float> u(kDim);
      for (float& e : u) e = normal(rng);
      live.apply_mean(u, res.step);  // as Mean / FedAvg do
      res.packet = packet_bytes(codec::encode_float32(u));
    }
    if (rolled_back) {
      live.roll_back();
      res.applied = false;
    }
    res.digest = live.digest();
    RoundRow row;
    row.round = r;
    row.model_digest = res.digest;
    std::optional<Checkpoint> ck;
    const bool keep = (r + 1) % every == 0;
    if (r == 0 || keep) {
      ck.emplace();
      ck->round = r;
      ck->digest = res.digest;
      ck->params.assign(live.params().begin(), live.params().end());
      ck->momentum.assign(live.momentum().begin(), live.momentum().end());
    }
    log.commit_round(run, row, {}, &res, ck ? &*ck : nullptr, keep);
  }
  return {{live.params().begin(), live.params().end()}, {live.momentum().begin(), live.momentum().end()}, live.digest()};
}

// --resume: the last checkpoint, then the logged results after it.
struct Resumed {
  std::vector<float> params;
  std::vector<float> momentum;
  std::uint64_t digest = 0;
  std::size_t replayed = 0;
};

Resumed resume(const std::string& db, Kind kind) {
  RoundLog log(db);
  const auto p = log.find_resumable();
  REQUIRE(p.has_value());
  std::vector<float> x(kDim, 0.0f);
  core::Replica r(x, kBasis);
  r.assign(p->checkpoint.params, p->checkpoint.momentum);
  if (kind == Kind::signum) r.enable_momentum();
  Resumed out;
  out.replayed = core::replay_results(r, p->checkpoint.round, p->last_round, p->results, db);
  out.params.assign(r.params().begin(), r.params().end());
  out.momentum.assign(r.momentum().begin(), r.momentum().end());
  out.digest = r.digest();
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // (memcmp may not be given the null data() of an empty vector)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("vote log: a signum (momentum) run and a fedavg (float32) run replay bit-identically from a checkpoint") {
  for (const Kind kind : {Kind::signum, Kind::fedavg}) {
    CAPTURE(static_cast<int>(kind));
    TempDir dir;
    const std::string db = dir.path + "/run.sqlite";
    const Live live = run_live(db, kind, 23, 10);  // checkpoints 0, 9, 19: replay 20..22
    CHECK(test::query_number(db, "SELECT COUNT(*) FROM results") == 23);
    CHECK(test::query_number(db, "SELECT COUNT(*) FROM checkpoints") == 2);  // 9 and 19 kept, round 0 pruned
    CHECK(test::query_number(db, "SELECT applied FROM results WHERE round=6") == 0);
    const Resumed r = resume(db, kind);
    CHECK(r.replayed == 3);
    CHECK(r.digest == live.digest);
    CHECK(same_bits(r.params, live.params));
    CHECK(same_bits(r.momentum, live.momentum));
    if (kind == Kind::signum) CHECK(!live.momentum.empty());
  }
}

TEST_CASE("vote log: replay from the first checkpoint passes a rolled-back step (applied = 0) without applying it") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  const Live live = run_live(db, Kind::signum, 9, 50);  // only the round-0 base: replay 1..8, round 6 rolled back
  const Resumed r = resume(db, Kind::signum);
  CHECK(r.replayed == 8);
  CHECK(r.digest == live.digest);
  CHECK(same_bits(r.params, live.params));
  CHECK(same_bits(r.momentum, live.momentum));
}

TEST_CASE("vote log: a tampered logged packet or a missing result stops the replay, naming the round") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  run_live(db, Kind::fedavg, 23, 10);
  SUBCASE("one float of round 21's update changed") {
    {
      SQLite::Database d(db, SQLite::OPEN_READWRITE);
      SQLite::Statement q(d, "SELECT packet FROM results WHERE round=21");
      REQUIRE(q.executeStep());
      const SQLite::Column c = q.getColumn(0);
      const auto* b = static_cast<const std::uint8_t*>(c.getBlob());
      std::vector<std::uint8_t> blob(b, b + c.getBytes());
      q.reset();
      const codec::PacketView v = core::logged_packet_view(blob, 21);
      // Coordinate 500's sign bit (the high byte of a little-endian float): still a valid packet.
      const std::size_t at = static_cast<std::size_t>(v.payload.data() - blob.data()) + 4 * 500 + 3;
      blob[at] ^= 0x80;
      SQLite::Statement u(d, "UPDATE results SET packet=? WHERE round=21");
      u.bind(1, blob.data(), static_cast<int>(blob.size()));
      u.exec();
    }
    try {
      resume(db, Kind::fedavg);
      FAIL("the replay accepted a tampered packet");
    } catch (const core::ReplayError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("round 21") != std::string::npos);
      CHECK(std::string(e.what()).find("digest") != std::string::npos);
    }
  }
  SUBCASE("round 22's packet is not a packet") {
    { SQLite::Database d(db, SQLite::OPEN_READWRITE); d.exec("UPDATE results SET packet=x'00010203' WHERE round=22"); }
    try {
      resume(db, Kind::fedavg);
      FAIL("the replay accepted garbage");
    } catch (const core::ReplayError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("round 22") != std::string::npos);
    }
  }
  SUBCASE("round 20's result is missing") {
    { SQLite::Database d(db, SQLite::OPEN_READWRITE); d.exec("DELETE FROM results WHERE round=20"); }
    try {
      resume(db, Kind::fedavg);
      FAIL("the replay skipped a round");
    } catch (const core::ReplayError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("round 20") != std::string::npos);
    }
  }
}
