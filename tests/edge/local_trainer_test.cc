// LocalTrainer: the update it computes, and that a round allocates nothing
// (counted at the malloc level, so Eigen's own allocations are seen too).
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/methods/encoder.h"
#include "core/codec/step.h"
#include "core/data/sampler.h"
#include "edge/local_trainer.h"
#include "tests/edge/edge_test_util.h"
#include "tests/edge/malloc_counter.h"

using namespace signfed;
using namespace signfed::edge;

namespace {

constexpr std::uint64_t kSeed = 11;
constexpr std::uint32_t kClient = 1;

LocalTrainer make_trainer(std::size_t rows = 50) {
  return LocalTrainer(load_shard(test::synthetic(rows, 16, 4), "", "iid", kClient, 2, kSeed),
                      model::make_model(test::kSpec, 3), kSeed, kClient);
}

LocalWork work(std::uint32_t round, std::uint32_t steps, bool fedavg) {
  LocalWork w;
  w.round = round;
  w.steps = steps;
  w.batch = 8;
  w.fedavg = fedavg;
  w.local_lr = 0.1f;
  return w;
}

// The same rows and gradients, computed without the trainer.
struct Reference {
  Shard shard = load_shard(test::synthetic(50, 16, 4), "", "iid", kClient, 2, kSeed);
  data::EpochSampler sampler{shard.rows.size(), data::client_batch_seed(kSeed, kClient)};

  double gradient(model::Model& m, std::uint64_t batch_number, std::span<float> grad) {
    std::vector<std::uint32_t> pos(8);
    sampler.batch(batch_number, pos);
    std::vector<float> x;
    std::vector<std::uint8_t> y;
    for (std::uint32_t p : pos) {
      const std::uint32_t r = shard.rows[p];
      x.insert(x.end(), shard.data->features.begin() + r * 16, shard.data->features.begin() + (r + 1) * 16);
      y.push_back(shard.data->labels[r]);
    }
    return m.loss_and_grad(x, y, 8, grad);
  }
};

}  // namespace

#if SIGNFED_MALLOC_COUNTING  // not built under AddressSanitizer, which owns malloc
TEST_CASE("malloc counter: sees operator new and Eigen's aligned_malloc") {
  const std::size_t a = test::malloc_calls();
  auto* v = new std::vector<float>(100);
  const std::size_t b = test::malloc_calls();
  Eigen::MatrixXf m = Eigen::MatrixXf::Zero(64, 64);  // Eigen's heap: aligned_malloc -> malloc
  const std::size_t c = test::malloc_calls();
  CHECK(b - a >= 2);
  CHECK(c - b >= 1);
  CHECK(m.sum() == 0.0f);
  delete v;
}
#endif

TEST_CASE("local trainer: signsgd update is the mean of the round's minibatch gradients, numbered round*steps+s") {
  LocalTrainer t = make_trainer();
  Reference ref;
  auto m = model::make_model(test::kSpec, 3);
  const std::size_t n = m->num_params();
  std::vector<float> g(n), mean(n, 0.0f);
  double loss = 0.0;
  for (std::uint64_t s = 0; s < 3; ++s) {
    loss += ref.gradient(*m, 5 * 3 + s, g);
    for (std::size_t i = 0; i < n; ++i) mean[i] += g[i];
  }
  for (float& v : mean) v /= 3.0f;
  CHECK(t.compute(work(5, 3, false)) == doctest::Approx(loss / 3));
  const auto u = t.update();
  REQUIRE(u.size() == n);
  for (std::size_t i = 0; i < n; ++i) CHECK(u[i] == mean[i]);
}

TEST_CASE("local trainer: a one-minibatch update is that gradient as 0 + g (bit for bit), also after a multi-step round") {
  LocalTrainer t = make_trainer();
  Reference ref;
  auto m = model::make_model(test::kSpec, 3);
  const std::size_t n = m->num_params();
  std::vector<float> g(n);
  (void)t.compute(work(4, 3, false));  // update() must not stay on the accumulator of this round
  CHECK(t.compute(work(7, 1, false)) == doctest::Approx(ref.gradient(*m, 7, g)));  // round 7, one step: minibatch 7
  const auto u = t.update();
  REQUIRE(u.size() == n);
  std::size_t negative_zeros = 0;
  for (std::size_t i = 0; i < n; ++i) {
    negative_zeros += g[i] == 0.0f && std::signbit(g[i]);
    const float accumulated = 0.0f + g[i];  // what the accumulating path gives
    CHECK(std::bit_cast<std::uint32_t>(u[i]) == std::bit_cast<std::uint32_t>(accumulated));
  }
  MESSAGE(negative_zeros << " of the gradient's coordinates are -0 (sent as +0, as before)");
}

TEST_CASE("local trainer: fedavg update is x_start - x_local after local SGD, and the parameters are restored") {
  LocalTrainer t = make_trainer();
  Reference ref;
  auto m = model::make_model(test::kSpec, 3);
  const std::vector<float> start(m->params().begin(), m->params().end());
  std::vector<float> g(m->num_params());
  for (std::uint64_t s = 0; s < 2; ++s) {
    ref.gradient(*m, 4 * 2 + s, g);
    codec::apply_dense_step(m->params(), g, 0.1f);
  }
  t.compute(work(4, 2, true));
  const auto x = t.model().params();
  for (std::size_t i = 0; i < start.size(); ++i) {
    CHECK(x[i] == start[i]);
    CHECK(t.update()[i] == start[i] - m->params()[i]);
  }
}

#if SIGNFED_MALLOC_COUNTING  // not built under AddressSanitizer, which owns malloc
TEST_CASE("local trainer: rounds after the first allocate nothing (signsgd, multi-step, fedavg, guard)") {
  // A 25-row shard with batches of 8: epochs turn over every few rounds, so
  // the sampler's permutations are redrawn many times.
  LocalTrainer t = make_trainer();
  const std::vector<float> before(t.model().params().begin(), t.model().params().end());
  for (const bool fedavg : {false, true}) {
    for (const std::uint32_t steps : {1u, 3u}) {
      CAPTURE(fedavg);
      CAPTURE(steps);
      t.compute(work(0, steps, fedavg));  // the first round may size buffers
      t.guard_losses(before);
      const std::size_t at = test::malloc_calls();
      for (std::uint32_t round = 1; round < 40; ++round) {
        t.compute(work(round, steps, fedavg));
        t.guard_losses(before);
      }
      CHECK(test::malloc_calls() - at == 0);
    }
  }
}
#endif

#if SIGNFED_MALLOC_COUNTING  // not built under AddressSanitizer, which owns malloc
TEST_CASE("local trainer: in a round's path (compute, then encode) only methods::UpdateEncoder::encode allocates") {
  // Documented exclusion: UpdateEncoder::encode (core/codec) returns a fresh
  // SignPacket and, for the ternary methods, builds candidate packets
  // (encode_ternary_best: runs, sparse, ternary) on the heap. That is the
  // only allocation in a steady-state round; everything before it is the
  // trainer's and must be zero.
  LocalTrainer t = make_trainer();
  methods::UpdateEncoder enc(t.model().num_params(), kernels::best_sign_kernels());
  for (const wire::Method m : {wire::Method::signsgd, wire::Method::s3gd, wire::Method::fedavg}) {
    const std::string method = methods::method_name(m);
    CAPTURE(method);
    methods::MethodConfig mc;
    mc.method = m;
    mc.gamma = 0.1f;
    const LocalWork w0 = work(0, 2, m == wire::Method::fedavg);
    t.compute(w0);
    (void)enc.encode(t.update(), mc, 0);
    std::size_t in_trainer = 0, in_encoder = 0;
    for (std::uint32_t round = 1; round < 20; ++round) {
      LocalWork w = w0;
      w.round = round;
      const std::size_t a = test::malloc_calls();
      t.compute(w);
      const std::size_t b = test::malloc_calls();
      const codec::SignPacket p = enc.encode(t.update(), mc, round);
      in_encoder += test::malloc_calls() - b;
      in_trainer += b - a;
    }
    CHECK(in_trainer == 0);
    MESSAGE("methods::UpdateEncoder::encode: " << in_encoder / 19.0 << " malloc calls per round (excluded)");
  }
}
#endif

TEST_CASE("local trainer: guard losses are at the given parameters and at the current ones, which are kept") {
  LocalTrainer t = make_trainer();
  const std::vector<float> now(t.model().params().begin(), t.model().params().end());
  std::vector<float> other = now;
  for (float& v : other) v *= 0.5f;
  const LocalTrainer::GuardLosses a = t.guard_losses(other);
  const LocalTrainer::GuardLosses b = t.guard_losses(now);
  CHECK(a.after == b.after);
  CHECK(b.before == b.after);
  CHECK(a.before != a.after);
  for (std::size_t i = 0; i < now.size(); ++i) CHECK(t.model().params()[i] == now[i]);
}

TEST_CASE("local trainer: a model whose input size differs from the data is refused") {
  CHECK_THROWS_AS(LocalTrainer(load_shard(test::synthetic(20, 16, 4), "", "iid", 0, 1, 1),
                               model::make_model("mlp:10-4-4", 1), 1, 0),
                  std::invalid_argument);
  CHECK_THROWS_AS(load_shard(test::synthetic(20, 16, 4), "", "iid", 2, 2, 1), std::invalid_argument);
}

TEST_CASE("local trainer: each client draws its own dropout masks, the same ones on every run") {
  // A dropout model; every row of the shard is the same sample, so two
  // clients' batches are equal whatever their order and only masks differ.
  const std::string spec = R"({"input": [16], "layers": [{"type": "dense", "units": 32}, {"type": "relu"},
      {"type": "dropout", "rate": 0.5}, {"type": "dense", "units": 4}], "loss": "softmax_cross_entropy"})";
  const auto data = test::synthetic(24, 16, 4);
  const auto update = [&](std::uint32_t client) {
    Shard s{data, {}};
    s.rows.assign(24, 5);  // sample 5, 24 times
    LocalTrainer t(std::move(s), model::make_model(spec, 3), kSeed, client);
    LocalWork w = work(0, 1, false);
    w.batch = 24;
    t.compute(w);
    return std::vector<float>(t.update().begin(), t.update().end());
  };
  const std::vector<float> a = update(0), a_again = update(0), b = update(1);
  CHECK(a == a_again);  // reproducible
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * double(a[i] - b[i]);
    norm += a[i] * double(a[i]);
  }
  MESSAGE("relative difference of two clients' gradients: " << std::sqrt(diff / norm));
  CHECK(std::sqrt(diff / norm) > 0.05);  // one mask stream for every client: equal updates
}
