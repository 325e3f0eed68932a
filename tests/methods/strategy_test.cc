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
  core::Replica r(x);
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
    core::Replica r(x);
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
