// Federated input statistics at the coordinator (--input-stats federated),
// in-process (net::MemoryTransport, net::ManualClock, the handle_frame seam,
// as federated_eval_test.cc): the clients' Join moments are checked, kept per
// name, combined in name order into per-feature statistics equal to those of
// the union of their rows, sent as InputStats before the first task and in
// every later Welcome, stored in runs.config and kept by --resume.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "coordinator/config.h"
#include "coordinator/coordinator.h"
#include "net/memory_transport.h"
#include "schema/wire.h"
#include "tests/e2e/process.h"
#include "tests/support/coordinator_rig.h"
#include "tests/support/wire_messages.h"

using namespace signfed;
using namespace signfed::test;

namespace {

constexpr std::uint32_t kDim = 26;  // mlp:3-4-2
constexpr std::size_t kF = 3;

using Rows = std::vector<std::vector<double>>;

struct Moments {
  std::uint64_t count = 0;
  std::vector<double> sum, sum_sq;
};

Moments moments_of(const Rows& rows) {
  Moments m{rows.size(), std::vector<double>(kF, 0.0), std::vector<double>(kF, 0.0)};
  for (const auto& r : rows)
    for (std::size_t j = 0; j < kF; ++j) {
      m.sum[j] += r[j];
      m.sum_sq[j] += r[j] * r[j];
    }
  return m;
}

Bytes join_with(const std::string& name, std::uint64_t samples, const Moments& m) {
  flatbuffers::FlatBufferBuilder fbb;
  return finish(fbb, wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(name), fbb.CreateString("Linux"),
                                      fbb.CreateString("x86_64"), fbb.CreateString("mlp:3-4-2"), kDim, samples,
                                      fbb.CreateString("test"), 0, 0, 0, m.count, fbb.CreateVector(m.sum),
                                      fbb.CreateVector(m.sum_sq)));
}

Bytes update(std::uint32_t round, std::uint32_t client) {
  return update_message(round, client, codec::make_dense_packet(kDim, Bytes((kDim + 7) / 8, 0x15), 1.0f));
}

// Rows with very different feature scales (~1e3, ~1, ~1e-3), per client.
const Rows kRowsA = {{1000.0, 0.5, 0.001}, {1200.0, 1.5, 0.002}, {900.0, 0.25, 0.004}};
const Rows kRowsB = {{3000.0, -1.0, 0.003}};
const Rows kRowsC = {{500.0, 2.0, 0.0005}, {700.0, 0.0, 0.006}};

struct Stats {
  std::vector<float> mean, std;
};

// A federated run of mlp:3-4-2 over MemoryTransport; keys KA, KB, KC, KD on peers p0..p3.
coord::CoordinatorConfig stats_config(bool resume) {
  coord::CoordinatorConfig cfg;
  cfg.model = "mlp:3-4-2";
  cfg.eval_every = 0;
  cfg.central_test = false;
  cfg.rounds = 10;
  cfg.input_stats = coord::CoordinatorConfig::InputStats::federated;
  cfg.resume = resume;
  return cfg;
}

struct Rig : CoordinatorRig {
  explicit Rig(bool resume = false, const std::string& reuse_db = {})
      : CoordinatorRig(stats_config(resume), {"KA", "KB", "KC", "KD"}, reuse_db) {}
  void join(char who, const Moments& m, std::uint64_t samples = 10) {
    static const char* const kNames[] = {"a", "b", "c", "d"}, *const kPeers[] = {"p0", "p1", "p2", "p3"},
                             *const kKeys[] = {"KA", "KB", "KC", "KD"};
    const int i = who - 'a';
    from(kPeers[i], join_with(kNames[i], samples, m), kKeys[i]);
  }
  std::vector<wire::Body> kinds(const std::string& peer) const {
    std::vector<wire::Body> out;
    for (const auto* e : received(peer)) out.push_back(e->body_type());
    return out;
  }
  std::optional<Stats> input_stats(const std::string& peer) const {
    for (const auto* e : received(peer))
      if (e->body_type() == wire::Body::InputStats) {
        const auto* s = e->body_as_InputStats();
        return Stats{{s->mean()->begin(), s->mean()->end()}, {s->std()->begin(), s->std()->end()}};
      }
    return std::nullopt;
  }
  const wire::Welcome* welcome(const std::string& peer) const {
    const wire::Welcome* w = nullptr;
    for (const auto* e : received(peer))
      if (e->body_type() == wire::Body::Welcome) w = e->body_as_Welcome();
    return w;
  }
  std::vector<std::string> error_texts(const std::string& peer) const {
    std::vector<std::string> out;
    for (const auto* e : received(peer))
      if (e->body_type() == wire::Body::Error) {
        CHECK(e->body_as_Error()->code() == wire::ErrorCode::bad_value);
        out.push_back(e->body_as_Error()->text()->str());
      }
    return out;
  }
};

// Mean and population std of every feature over the union of the rows, two-pass.
Stats direct(const std::vector<Rows>& parts) {
  Rows all;
  for (const Rows& p : parts) all.insert(all.end(), p.begin(), p.end());
  Stats s;
  for (std::size_t j = 0; j < kF; ++j) {
    double mean = 0.0;
    for (const auto& r : all) mean += r[j];
    mean /= static_cast<double>(all.size());
    double var = 0.0;
    for (const auto& r : all) var += (r[j] - mean) * (r[j] - mean);
    s.mean.push_back(static_cast<float>(mean));
    s.std.push_back(static_cast<float>(std::sqrt(var / static_cast<double>(all.size()))));
  }
  return s;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // (memcmp may not be given the null data() of an empty vector)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("input stats: the clients' moments give the per-feature mean and std of the union of their rows") {
  Rig r;
  r.join('a', moments_of(kRowsA));
  r.join('b', moments_of(kRowsB));
  r.join('c', moments_of(kRowsC));
  // Before the run starts: standardise, no vectors yet, wait for InputStats.
  const wire::Welcome* w = r.welcome("p0");
  REQUIRE(w != nullptr);
  CHECK(w->standardise());
  CHECK(w->input_stats_pending());
  CHECK((!w->input_mean_per_feature() || w->input_mean_per_feature()->size() == 0));
  CHECK_FALSE(r.input_stats("p0"));

  r.c->begin_round_for_test(0);
  const Stats want = direct({kRowsA, kRowsB, kRowsC});
  for (const char* peer : {"p0", "p1", "p2"}) {
    CAPTURE(peer);
    const std::optional<Stats> got = r.input_stats(peer);
    REQUIRE(got);
    REQUIRE(got->mean.size() == kF);
    for (std::size_t j = 0; j < kF; ++j) {
      CAPTURE(j);
      CHECK(got->mean[j] == doctest::Approx(want.mean[j]).epsilon(1e-6));
      CHECK(got->std[j] == doctest::Approx(want.std[j]).epsilon(1e-5));
    }
    // InputStats comes before the first task (ZeroMQ keeps the order per connection).
    const std::vector<wire::Body> k = r.kinds(peer);
    const auto stats_at = std::find(k.begin(), k.end(), wire::Body::InputStats);
    const auto task_at = std::find(k.begin(), k.end(), wire::Body::RoundTask);
    CHECK(stats_at < task_at);
    CHECK(task_at != k.end());
  }
  // Stored with the run.
  const nlohmann::json config = nlohmann::json::parse(query_text(r.db, "SELECT config FROM runs"));
  CHECK(config.at("input_stats") == "federated");
  CHECK(same_bits(config.at("input_mean_per_feature").get<std::vector<float>>(), r.input_stats("p0")->mean));
  CHECK(same_bits(config.at("input_std_per_feature").get<std::vector<float>>(), r.input_stats("p0")->std));
}

TEST_CASE("input stats: a client joining later gets the vectors in its Welcome, no InputStats") {
  Rig r;
  r.join('a', moments_of(kRowsA));
  r.join('b', moments_of(kRowsB));
  r.c->begin_round_for_test(0);
  r.join('d', moments_of(kRowsC));  // after the statistics were fixed: its moments do not change them
  const wire::Welcome* w = r.welcome("p3");
  REQUIRE(w != nullptr);
  CHECK(w->standardise());
  CHECK_FALSE(w->input_stats_pending());
  REQUIRE(w->input_mean_per_feature());
  const Stats sent = *r.input_stats("p0");
  CHECK(same_bits({w->input_mean_per_feature()->begin(), w->input_mean_per_feature()->end()}, sent.mean));
  CHECK(same_bits({w->input_std_per_feature()->begin(), w->input_std_per_feature()->end()}, sent.std));
  CHECK_FALSE(r.input_stats("p3"));
  // A Join without moments is an older edge that could not read the vectors: refused even now.
  r.from("p2", join_message("c", "mlp:3-4-2", kDim, "test", 10), "KC");
  CHECK(r.welcome("p2") == nullptr);
  REQUIRE(r.error_texts("p2").size() == 1);
  CHECK(r.error_texts("p2")[0].find("must carry the moments") != std::string::npos);
  const Stats want = direct({kRowsA, kRowsB});
  CHECK(sent.mean[0] == doctest::Approx(want.mean[0]).epsilon(1e-6));
}

TEST_CASE("input stats: the join order does not change the statistics, bit for bit (sums in name order)") {
  // Feature 0's sums cancel only in name order: a + (b + c) would differ from
  // (a + b) + c, so adding in join order would show.
  Moments a{1, {1.0, 1.0, 1.0}, {1.0, 1.0, 1.0}}, b{1, {1e17, 2.0, 2.0}, {1e34, 4.0, 4.0}},
      c{1, {-1e17, 3.0, 3.0}, {1e34, 9.0, 9.0}};
  Rig abc, cba;
  abc.join('a', a);
  abc.join('b', b);
  abc.join('c', c);
  cba.join('c', c);
  cba.join('b', b);
  cba.join('a', a);
  abc.c->begin_round_for_test(0);
  cba.c->begin_round_for_test(0);
  const Stats x = *abc.input_stats("p0"), y = *cba.input_stats("p0");
  CHECK(same_bits(x.mean, y.mean));
  CHECK(same_bits(x.std, y.std));
  // Name order: ((1 + 1e17) - 1e17) / 3 = 0 in double.
  CHECK(x.mean[0] == 0.0f);
}

TEST_CASE("input stats: a rejoin replaces that client's moments, never adds them twice") {
  Rig r;
  r.join('a', moments_of(kRowsC));  // replaced below
  r.join('b', moments_of(kRowsB));
  r.clock->advance(2.0);            // past the per-name join interval
  r.join('a', moments_of(kRowsA));
  r.clock->advance(2.0);
  r.join('a', moments_of(kRowsA));  // once more, same moments: still counted once
  r.c->begin_round_for_test(0);
  const Stats got = *r.input_stats("p1");
  const Stats want = direct({kRowsA, kRowsB});
  for (std::size_t j = 0; j < kF; ++j) {
    CAPTURE(j);
    CHECK(got.mean[j] == doctest::Approx(want.mean[j]).epsilon(1e-6));
    CHECK(got.std[j] == doctest::Approx(want.std[j]).epsilon(1e-5));
  }
}

TEST_CASE("input stats: bad moments refuse the Join with bad_value and a message saying what is wrong") {
  Rig r;
  const Moments good = moments_of(kRowsA);
  struct Case {
    Moments m;
    std::uint64_t samples;
    const char* says;
  };
  Moments two = good;
  two.sum.pop_back();
  two.sum_sq.pop_back();
  Moments nan = good;
  nan.sum[1] = std::nan("");
  Moments inf = good;
  inf.sum_sq[2] = INFINITY;
  Moments neg = good;
  neg.sum_sq[0] = -1.0;
  const Case cases[] = {
      {two, 10, "input moments of 2 sums and 2 sums of squares; the model takes 3 features"},
      {good, 2, "input moments over 3 rows, more than the 2 training samples the Join reports"},
      {nan, 10, "input moments of feature 1 are not finite"},
      {inf, 10, "input moments of feature 2 are not finite"},
      {neg, 10, "input moments of feature 0 have a negative sum of squares"},
      {Moments{}, 10, "must carry the moments of the client's training rows"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.says);
    r.transport->take_sent();
    r.clock->advance(5.0);
    r.join('a', k.m, k.samples);
    const std::vector<std::string> errs = r.error_texts("p0");
    REQUIRE(errs.size() == 1);
    CHECK(errs[0].find(k.says) != std::string::npos);
    CHECK(r.welcome("p0") == nullptr);  // not admitted
  }
  r.join('b', good);  // a good Join is admitted
  CHECK(r.welcome("p1") != nullptr);
  CHECK(r.error_texts("p1").empty());
}

TEST_CASE("input stats: --resume keeps the stored statistics and never recomputes them") {
  TempDir keep;
  const std::string db = keep.path + "/run.sqlite";
  Stats first;
  {
    Rig r(false, db);
    r.join('a', moments_of(kRowsA));
    r.join('b', moments_of(kRowsB));
    r.c->begin_round_for_test(0);
    r.from("p0", update(0, 0), "KA");
    r.from("p1", update(0, 1), "KB");
    r.c->finish_round_for_test();
    first = *r.input_stats("p0");
  }
  Rig r(true, db);
  r.join('a', moments_of(kRowsC));  // different data now: must not matter
  r.join('b', moments_of(kRowsC));
  r.c->begin_round_for_test(1);
  CHECK_FALSE(r.input_stats("p0"));  // nothing to send: the Welcome carried them
  const wire::Welcome* w = r.welcome("p0");
  REQUIRE(w != nullptr);
  CHECK_FALSE(w->input_stats_pending());
  REQUIRE(w->input_mean_per_feature());
  CHECK(same_bits({w->input_mean_per_feature()->begin(), w->input_mean_per_feature()->end()}, first.mean));
  CHECK(same_bits({w->input_std_per_feature()->begin(), w->input_std_per_feature()->end()}, first.std));
}

TEST_CASE("input stats: --input-stats with --no-standardise is refused, and --resume refuses a different source") {
  coord::CoordinatorConfig c;
  c.standardise = false;
  c.input_stats = coord::CoordinatorConfig::InputStats::federated;
  const auto given = [](std::string_view f) { return f == "--input-stats" || f == "--no-standardise"; };
  CHECK(coord::check_flag_combinations(c, given).find("--input-stats has no effect with --no-standardise") !=
        std::string::npos);
  c.standardise = true;
  CHECK(coord::check_flag_combinations(c, given).empty());
  coord::CoordinatorConfig stored;  // dataset
  const std::string err =
      coord::resume_conflicts(coord::to_json(c), coord::to_json(stored), {"--input-stats"});
  CHECK(err.find("--input-stats \"federated\" (the run has \"dataset\")") != std::string::npos);
}

TEST_CASE("input stats: runs.config round-trips the source and the per-feature vectors") {
  coord::CoordinatorConfig c;
  c.input_stats = coord::CoordinatorConfig::InputStats::federated;
  c.input_mean_per_feature = {1.5f, -2.0f};
  c.input_std_per_feature = {0.25f, 3.0f};
  coord::CoordinatorConfig back;
  coord::apply_stored_config(coord::to_json(c), back);
  CHECK(back.input_stats == coord::CoordinatorConfig::InputStats::federated);
  CHECK(back.input_mean_per_feature == c.input_mean_per_feature);
  CHECK(back.input_std_per_feature == c.input_std_per_feature);
  nlohmann::json old = coord::to_json(coord::CoordinatorConfig{});
  old.erase("input_stats");  // a run logged before federated statistics
  old.erase("input_mean_per_feature");
  old.erase("input_std_per_feature");
  coord::apply_stored_config(old, back);
  CHECK(back.input_stats == coord::CoordinatorConfig::InputStats::dataset);
  CHECK(back.input_mean_per_feature.empty());
}
