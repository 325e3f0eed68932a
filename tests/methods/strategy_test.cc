// The method table: which strategy each method gets, which encodings its
// clients may send, what its task says about the step, and that a vote
// strategy applies what it votes.
#include <doctest/doctest.h>

#include <vector>

#include "core/methods/strategy.h"
#include "core/codec/step.h"

using namespace signfed;
using wire::Encoding;
using wire::Method;

namespace {
methods::StrategyConfig config(Method m) {
  methods::StrategyConfig c;
  c.method.method = m;
  c.server_lr = 0.5f;
  return c;
}
}  // namespace

TEST_CASE("strategy: accepted encodings per method") {
  const std::vector<Encoding> signs = {Encoding::dense_sign, Encoding::runs_sign, Encoding::sparse_sign,
                                       Encoding::ternary};
  for (Method m : {Method::signsgd, Method::signum, Method::s3gd, Method::randk, Method::efsign}) {
    const auto cfg = config(m);
    const auto s = methods::make_strategy(cfg);
    CAPTURE(wire::EnumNameMethod(m));
    for (Encoding e : signs) CHECK(s->accepts(e));
    CHECK(!s->accepts(Encoding::float32));
  }
  {
    const auto cfg = config(Method::stochsign);  // +-1 everywhere (Safaryan Def. 3): no abstention
    const auto s = methods::make_strategy(cfg);
    CHECK(s->accepts(Encoding::dense_sign));
    CHECK(!s->accepts(Encoding::ternary));
    CHECK(!s->accepts(Encoding::float32));
  }
  for (Method m : {Method::fedsgd, Method::fedavg}) {
    const auto cfg = config(m);
    const auto s = methods::make_strategy(cfg);
    CHECK(s->accepts(Encoding::float32));
    CHECK(!s->accepts(Encoding::dense_sign));
  }
}

TEST_CASE("strategy: fedavg's task carries the local rate and the server step, the others the schedule's step") {
  const auto avg_cfg = config(Method::fedavg);
  const auto avg = methods::make_strategy(avg_cfg);
  CHECK(avg->plan(0.01f).step == 0.5f);
  CHECK(avg->plan(0.01f).local_lr == 0.01f);
  const auto sgd_cfg = config(Method::fedsgd);
  const auto sgd = methods::make_strategy(sgd_cfg);
  CHECK(sgd->plan(0.01f).step == 0.01f);
  CHECK(sgd->plan(0.01f).local_lr == 0.0f);
}

TEST_CASE("strategy: momentum only where the method keeps it, and the vote moves the replica by it") {
  auto cfg = config(Method::s3gd);
  CHECK(!methods::make_strategy(cfg)->uses_momentum());
  cfg.method.momentum = 0.9f;
  const auto s = methods::make_strategy(cfg);
  REQUIRE(s->uses_momentum());

  std::vector<float> x(8, 1.0f);
  core::Replica r(x, codec::architecture_basis("test"));
  r.enable_momentum();
  const std::vector<float> g = {1, -1, 0, 1, 0, 0, -1, 1};
  const codec::SignPacket p = codec::encode_ternary_best(codec::ternary_signs(g));
  const methods::Counted one{0, p.view(), 10.0};
  const methods::Aggregate a = s->aggregate(0, std::span(&one, 1), 0.25f, r);
  CHECK(a.momentum == 0.9f);
  CHECK(a.coords_moved == 5);
  REQUIRE(a.agreement.size() == 1);
  CHECK(a.agreement[0] == 1.0);
  for (std::size_t i = 0; i < 8; ++i) CHECK(x[i] == 1.0f - 0.25f * g[i]);
}

TEST_CASE("strategy: the guarded step wraps any method, keeps a step the losses allow and undoes one they refuse") {
  for (Method m : {Method::signsgd, Method::fedsgd}) {
    CAPTURE(wire::EnumNameMethod(m));
    auto cfg = config(m);
    CHECK(!methods::make_strategy(cfg)->confirms());
    cfg.guarded_step = true;
    const auto s = methods::make_strategy(cfg);
    REQUIRE(s->confirms());
    CHECK(s->accepts(m == Method::signsgd ? Encoding::dense_sign : Encoding::float32));  // the inner method's

    std::vector<float> x(4, 1.0f);
    core::Replica r(x, codec::architecture_basis("test"));
    const std::vector<float> g = {1, -1, 1, -1};
    const codec::SignPacket p =
        m == Method::signsgd ? codec::encode_ternary_best(codec::ternary_signs(g)) : codec::encode_float32(g);
    const methods::Counted one{0, p.view(), 1.0};
    const std::vector<float> after = {0.5f, 1.5f, 0.5f, 1.5f};

    s->aggregate(0, std::span(&one, 1), 0.5f, r);
    CHECK(x == after);
    const std::vector<methods::LossReport> better = {{0, 2.0, 1.0}, {1, 1.0, 1.5}};  // sum 3.0 -> 2.5
    CHECK(s->confirm(better, r));
    CHECK(x == after);

    s->aggregate(1, std::span(&one, 1), 0.5f, r);
    const std::vector<methods::LossReport> worse = {{0, 1.0, 1.2}, {1, 1.0, 0.9}};  // sum 2.0 -> 2.1
    CHECK(!s->confirm(worse, r));
    CHECK(x == after);  // back to before the second step
    CHECK(s->confirm({}, r));  // no report in time: kept
  }
}

TEST_CASE("strategy: one update of 3e38 among three - the plain mean refuses the round and keeps the replica, the median ignores it") {
  // The weighted mean sums exactly in 128-bit fixed point (tally.h): a term
  // beyond 2^40 cannot be summed exactly, and no honest gradient is near it.
  for (Method m : {Method::fedsgd, Method::fedavg}) {
    for (bool guarded : {false, true}) {
      CAPTURE(wire::EnumNameMethod(m));
      CAPTURE(guarded);
      auto cfg = config(m);
      cfg.guarded_step = guarded;
      const std::vector<float> start(16, 1.0f);
      const codec::SignPacket honest = codec::encode_float32(std::vector<float>(16, 0.5f));
      const codec::SignPacket poison = codec::encode_float32(std::vector<float>(16, 3.0e38f));
      const std::vector<methods::Counted> counted = {{0, honest.view(), 10.0}, {1, poison.view(), 10.0},
                                                     {2, honest.view(), 10.0}};
      std::vector<float> x = start;
      core::Replica r(x, codec::architecture_basis("test"));
      const methods::Aggregate a = methods::make_strategy(cfg)->aggregate(0, counted, 0.5f, r);
      CHECK(a.refused == "an update coordinate times its weight beyond 2^40 (or not finite)");
      CHECK(x == start);
      CHECK(a.coords_moved == 0);
      CHECK(codec::decode_ternary(a.result.view()).nnz() == 0);  // every replica applies nothing

      cfg.aggregate.rule = methods::AggregateRule::median;
      const methods::Aggregate b = methods::make_strategy(cfg)->aggregate(0, counted, 0.5f, r);
      CHECK(b.refused.empty());
      CHECK(x == std::vector<float>(16, 0.75f));
      CHECK(codec::decode_float32(b.result.view()) == std::vector<float>(16, 0.5f));
      // The median of two (the mean of 0.5 and 3e38) in each of 16 coordinates: finite, the L2 norm 6e38 above FLT_MAX.
      const methods::Aggregate c = methods::make_strategy(cfg)->aggregate(0, std::span(counted).subspan(1), 0.5f, r);
      CHECK(c.refused == "aggregate L2 norm above FLT_MAX");
      CHECK(c.refused_norm == doctest::Approx(6.0e38));
    }
  }
}

TEST_CASE("strategy: a finite aggregate that would make the model non-finite is refused and rolled back") {
  auto cfg = config(Method::fedsgd);
  std::vector<float> x = {3.0e38f, 1.0f};
  const std::vector<float> before = x;
  core::Replica r(x, codec::architecture_basis("test"));
  const codec::SignPacket down = codec::encode_float32(std::vector<float>{-1.0e11f, 1.0f});
  const methods::Counted one{0, down.view(), 1.0};
  const methods::Aggregate a = methods::make_strategy(cfg)->aggregate(0, std::span(&one, 1), 1.0e27f, r);
  CHECK(a.refused == "model would become non-finite");  // 3e38 + 1e27 * 1e11 overflows float32
  CHECK(x == before);
  // Clipping the same update to norm 1 makes it harmless.
  cfg.aggregate.clip = 1.0;
  const methods::Aggregate b = methods::make_strategy(cfg)->aggregate(0, std::span(&one, 1), 1.0f, r);
  CHECK(b.refused.empty());
  CHECK(x[0] == 3.0e38f);  // 3e38 + 1: below float32 resolution
  CHECK(x[1] == doctest::Approx(1.0f));  // 1 - 1e-11: below it too
}
