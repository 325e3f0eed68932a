// The method table: which strategy each method gets, which encodings its
// clients may send, what its task says about the step, and that a vote
// strategy applies what it votes.
#include <doctest/doctest.h>

#include <vector>

#include "coordinator/strategy/strategy.h"
#include "core/codec/step.h"

using namespace signfed;
using wire::Encoding;
using wire::Method;

namespace {
coord::CoordinatorConfig config(Method m) {
  coord::CoordinatorConfig c;
  c.method.method = m;
  c.step_size = 0.01f;
  c.server_lr = 0.5f;
  return c;
}
}  // namespace

TEST_CASE("strategy: accepted encodings per method") {
  const std::vector<Encoding> signs = {Encoding::dense_sign, Encoding::runs_sign, Encoding::sparse_sign,
                                       Encoding::ternary};
  for (Method m : {Method::signsgd, Method::signum, Method::s3gd, Method::randk, Method::efsign}) {
    const auto cfg = config(m);
    const auto s = coord::make_strategy(cfg);
    CAPTURE(wire::EnumNameMethod(m));
    for (Encoding e : signs) CHECK(s->accepts(e));
    CHECK(!s->accepts(Encoding::float32));
  }
  {
    const auto cfg = config(Method::stochsign);  // +-1 everywhere (Safaryan Def. 3): no abstention
    const auto s = coord::make_strategy(cfg);
    CHECK(s->accepts(Encoding::dense_sign));
    CHECK(!s->accepts(Encoding::ternary));
    CHECK(!s->accepts(Encoding::float32));
  }
  for (Method m : {Method::fedsgd, Method::fedavg}) {
    const auto cfg = config(m);
    const auto s = coord::make_strategy(cfg);
    CHECK(s->accepts(Encoding::float32));
    CHECK(!s->accepts(Encoding::dense_sign));
  }
}

TEST_CASE("strategy: fedavg's task carries the local rate and the server step, the others the schedule's step") {
  const auto avg_cfg = config(Method::fedavg);
  const auto avg = coord::make_strategy(avg_cfg);
  CHECK(avg->plan(3).step == 0.5f);
  CHECK(avg->plan(3).local_lr == 0.01f);
  const auto sgd_cfg = config(Method::fedsgd);
  const auto sgd = coord::make_strategy(sgd_cfg);
  CHECK(sgd->plan(3).step == 0.01f);
  CHECK(sgd->plan(3).local_lr == 0.0f);
}

TEST_CASE("strategy: momentum only where the method keeps it, and the vote moves the replica by it") {
  auto cfg = config(Method::s3gd);
  CHECK(!coord::make_strategy(cfg)->uses_momentum());
  cfg.method.momentum = 0.9f;
  const auto s = coord::make_strategy(cfg);
  REQUIRE(s->uses_momentum());

  std::vector<float> x(8, 1.0f);
  core::Replica r(x);
  r.enable_momentum();
  const std::vector<float> g = {1, -1, 0, 1, 0, 0, -1, 1};
  const codec::SignPacket p = codec::encode_ternary_best(codec::ternary_signs(g));
  const coord::Counted one{0, p.view(), 10.0};
  const coord::Aggregate a = s->aggregate(0, std::span(&one, 1), 0.25f, r);
  CHECK(a.momentum == 0.9f);
  CHECK(a.coords_moved == 5);
  REQUIRE(a.agreement.size() == 1);
  CHECK(a.agreement[0] == 1.0);
  for (std::size_t i = 0; i < 8; ++i) CHECK(x[i] == 1.0f - 0.25f * g[i]);
}
