// The simulator's shared replica (edge/shared_replica.h): a round's result is
// applied once whoever applies it first, a stale version is refused, the
// guarded step rolls back once, a snapshot replaces the parameters only when
// it differs; and a trainer lent to many clients in turn (swap_client)
// computes each client's updates bit-for-bit as the client's own trainer.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/codec/step.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "edge/local_trainer.h"
#include "edge/shared_replica.h"
#include "tests/edge/edge_test_util.h"

using namespace signfed;
using namespace signfed::edge;

namespace {

// A model with a dropout layer, so the per-client dropout stream matters.
constexpr const char* kDropoutSpec = R"({"input":[16],"layers":[{"type":"dense","units":8},{"type":"dropout","rate":0.3},
  {"type":"relu"},{"type":"dense","units":4}],"loss":"softmax_cross_entropy"})";

codec::SignPacket signs(std::size_t n, std::uint64_t seed) {
  std::vector<float> x(n);
  data::Rng rng(seed);
  for (float& v : x) v = static_cast<float>(static_cast<int>(rng.below(3)) - 1);
  return codec::encode_ternary_best(codec::ternary_signs(x));
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("shared replica: a round's result is applied once, whoever applies it first") {
  SharedReplica shared(test::kSpec, 5, model::Init::he);
  auto alone = model::make_model(test::kSpec, 5);
  core::Replica own(alone->params(), codec::architecture_basis(alone->spec()));
  CHECK(shared.digest_at(0) == own.digest());

  const codec::SignPacket r0 = signs(shared.num_params(), 1), r1 = signs(shared.num_params(), 2);
  const auto a = shared.apply(0, 0, r0.view(), 0.01f, 0.0f, false);
  const auto b = shared.apply(0, 0, r0.view(), 0.01f, 0.0f, false);  // a second client of the same round
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == 1);
  CHECK(*b == 1);
  CHECK(shared.version() == 1);
  own.apply(r0.view(), 0.01f, 0.0f);
  CHECK(shared.digest_at(1) == own.digest());

  REQUIRE(shared.apply(1, 1, r1.view(), 0.01f, 0.0f, false) == std::optional<std::size_t>(2));
  // A client still at version 0 (it ignored round 0's result) cannot apply round 1.
  CHECK_FALSE(shared.apply(0, 1, r1.view(), 0.01f, 0.0f, false));
  std::vector<float> p(shared.num_params());
  CHECK_FALSE(shared.copy_params(1, p));
  REQUIRE(shared.copy_params(2, p));
  own.apply(r1.view(), 0.01f, 0.0f);
  CHECK(same_bits(p, own.params()));
}

TEST_CASE("shared replica: the guarded step saves, rolls back once, and a snapshot installs only if it differs") {
  SharedReplica shared(test::kSpec, 5, model::Init::he);
  const codec::SignPacket r0 = signs(shared.num_params(), 3);
  std::vector<float> before(shared.num_params()), saved(shared.num_params());
  REQUIRE(shared.copy_params(0, before));
  const auto v1 = shared.apply(0, 0, r0.view(), 0.05f, 0.0f, true);
  REQUIRE(v1);
  REQUIRE(shared.copy_saved_params(*v1, saved));
  CHECK(same_bits(saved, before));
  const auto v2 = shared.roll_back(*v1, 0);
  REQUIRE(v2);
  CHECK(shared.roll_back(*v1, 0) == v2);  // the second client's decision finds it done
  CHECK(shared.digest_at(*v2) == shared.digest_at(0));
  CHECK(shared.version() == 2);

  // A snapshot equal to the current parameters: no new version.
  std::vector<float> p(shared.num_params());
  REQUIRE(shared.copy_params(*v2, p));
  core::Replica same(p, shared.basis());
  CHECK(shared.install(same) == *v2);
  // A snapshot of an older version (sent before the latest result was applied) names it.
  const codec::SignPacket r1 = signs(shared.num_params(), 4);
  REQUIRE(shared.apply(*v2, 1, r1.view(), 0.05f, 0.0f, false) == std::optional<std::size_t>(3));
  CHECK(shared.install(same) == *v2);
  CHECK(shared.version() == 3);
  // One that equals no version (the coordinator is the authority): a new version holding it.
  p[0] += 1.0f;
  core::Replica other(p, shared.basis());
  const std::size_t v4 = shared.install(other);
  CHECK(v4 == 4);
  CHECK(shared.digest_at(v4) == other.digest());
  REQUIRE(shared.copy_params(v4, p));
  CHECK(same_bits(p, other.params()));
}

TEST_CASE("a trainer lent to two clients in turn computes each one's updates as its own trainer does") {
  const auto data = test::synthetic(80, 16, 4);
  const std::uint64_t seed = 9;
  for (const bool fedavg : {false, true}) {
    CAPTURE(fedavg);
    auto shard_of = [&](std::uint32_t c) { return load_shard(data, "", "iid", c, 2, seed); };
    LocalTrainer own0(shard_of(0), model::make_model(kDropoutSpec, 4), seed, 0);
    LocalTrainer own1(shard_of(1), model::make_model(kDropoutSpec, 4), seed, 1);
    // The bench starts with some other client's state, as a Workbench does.
    LocalTrainer bench(load_shard(data, "", "iid", 0, 3, seed), model::make_model(kDropoutSpec, 4), seed, 7);
    LocalTrainer::ClientState st[2] = {LocalTrainer::client_state(shard_of(0), seed, 0),
                                       LocalTrainer::client_state(shard_of(1), seed, 1)};
    LocalTrainer* own[2] = {&own0, &own1};
    LocalWork w;
    w.batch = 8;
    w.steps = fedavg ? 3 : 2;
    w.fedavg = fedavg;
    w.local_lr = 0.1f;
    for (std::uint32_t round = 0; round < 4; ++round) {
      for (int c : {1, 0}) {
        CAPTURE(round);
        CAPTURE(c);
        w.round = round;
        const double loss = own[c]->compute(w);
        bench.swap_client(st[c]);
        const double lent = bench.compute(w);
        bench.swap_client(st[c]);
        CHECK(lent == loss);
        CHECK(same_bits(bench.update(), own[c]->update()));
        CHECK(same_bits(bench.model().params(), own[c]->model().params()));  // fedavg restored them
      }
    }
  }
}
