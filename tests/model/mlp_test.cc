#include "tests/model/reference/mlp.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tests/model/test_util.h"

namespace signfed::model {
namespace {

using test::uniform_floats;

// n samples of `dim` features in 3 linearly separable classes: class c has
// feature c set to 1 plus small noise on every feature.
void separable_set(std::size_t n, std::size_t dim, std::uint64_t seed, std::vector<float>& x,
                   std::vector<std::uint8_t>& y) {
  x = uniform_floats(n * dim, seed, 0.0f, 0.2f);
  y = test::random_labels(n, 3, seed + 1);
  for (std::size_t i = 0; i < n; ++i) x[i * dim + y[i]] += 1.0f;
}

TEST_CASE("mlp: default 784-128-10 has 101,770 parameters") {
  Mlp m(Mlp::parse_spec("mlp"), 1);
  CHECK(m.num_params() == 784 * 128 + 128 + 128 * 10 + 10);
  CHECK(m.num_params() == 101770);
  CHECK(m.spec() == "mlp:784-128-10");
  CHECK(m.input_size() == 784);
  CHECK(m.num_classes() == 10);
  CHECK(m.params().size() == 101770);
}

TEST_CASE("mlp: flat layout is W row-major [out x in] then b, per layer") {
  // Logistic regression 3 -> 2 with zero weights: softmax = (1/2, 1/2), so
  // dL/dW[o][i] = (1/2 - [o == y]) * x[i] and dL/db[o] = 1/2 - [o == y].
  Mlp m({3, 2}, 7);
  std::fill(m.params().begin(), m.params().end(), 0.0f);
  const std::vector<float> x = {1.0f, 2.0f, 3.0f};
  const std::vector<std::uint8_t> y = {0};
  std::vector<float> g(m.num_params());
  const double loss = m.loss_and_grad(x, y, 1, g);
  CHECK(loss == doctest::Approx(std::log(2.0)));
  const std::vector<float> want = {-0.5f, -1.0f, -1.5f, 0.5f, 1.0f, 1.5f, -0.5f, 0.5f};
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(g[i] == doctest::Approx(want[i]));
}

TEST_CASE("mlp: gradient matches central finite differences on every coordinate") {
  Mlp m({20, 7, 5}, 3);
  const std::size_t batch = 6;
  const auto x = uniform_floats(batch * 20, 11);
  const auto y = test::random_labels(batch, 5, 12);
  std::vector<float> g(m.num_params());
  m.loss_and_grad(x, y, batch, g);
  std::size_t bad = 0;
  double max_err = 0.0;
  for (std::size_t i = 0; i < m.num_params(); ++i) {
    const double fd = test::numeric_grad(m, i, 1e-3f, x, y, batch);
    const double err = std::abs(fd - g[i]);
    max_err = std::max(max_err, err);
    if (err > 2e-4 + 1e-2 * std::abs(fd)) {
      ++bad;
      INFO("coordinate ", i, ": analytic ", g[i], " numeric ", fd);
      CHECK(err <= 2e-4 + 1e-2 * std::abs(fd));
    }
  }
  MESSAGE("mlp:20-7-5 max |analytic - numeric| = ", max_err);
  CHECK(bad == 0);
}

TEST_CASE("mlp: gradient of a deeper net matches finite differences") {
  Mlp m({12, 9, 8, 4}, 5);
  const std::size_t batch = 4;
  const auto x = uniform_floats(batch * 12, 21);
  const auto y = test::random_labels(batch, 4, 22);
  std::vector<float> g(m.num_params());
  m.loss_and_grad(x, y, batch, g);
  for (std::size_t i = 0; i < m.num_params(); ++i) {
    const double fd = test::numeric_grad(m, i, 1e-3f, x, y, batch);
    INFO("coordinate ", i);
    CHECK(std::abs(fd - g[i]) <= 2e-4 + 1e-2 * std::abs(fd));
  }
}

TEST_CASE("mlp: init is deterministic in the seed") {
  Mlp a(Mlp::parse_spec("mlp"), 42);
  Mlp b(Mlp::parse_spec("mlp"), 42);
  Mlp c(Mlp::parse_spec("mlp"), 43);
  CHECK(std::equal(a.params().begin(), a.params().end(), b.params().begin()));
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.num_params(); ++i) same += a.params()[i] == c.params()[i];
  CHECK(same < a.num_params() / 100);  // only the zero biases (138) coincide
}

TEST_CASE("mlp: init is pinned bit-for-bit (same on every platform)") {
  // Changing these values changes the wire contract: every replica must agree.
  Mlp m(Mlp::parse_spec("mlp"), 42);
  CHECK(test::fnv1a(m.params()) == 0x0bdd2869ab562385ULL);
  CHECK(m.params()[0] == 0x1.5a3c3ap-5f);  // sanity anchor for a human diffing platforms
}

TEST_CASE("mlp: init ranges are He-uniform (hidden) and Glorot-uniform (output), biases zero") {
  Mlp m({784, 128, 10}, 9);
  const auto p = m.params();
  const float he = std::sqrt(6.0f / 784.0f);
  const float glorot = std::sqrt(6.0f / 138.0f);
  const std::size_t w1 = 784 * 128, b1 = w1 + 128, w2 = b1 + 1280;
  CHECK(std::all_of(p.begin(), p.begin() + w1, [&](float v) { return std::abs(v) <= he; }));
  CHECK(std::all_of(p.begin() + w1, p.begin() + b1, [](float v) { return v == 0.0f; }));
  CHECK(std::all_of(p.begin() + b1, p.begin() + w2, [&](float v) { return std::abs(v) <= glorot; }));
  CHECK(std::all_of(p.begin() + w2, p.end(), [](float v) { return v == 0.0f; }));
  double mean = 0.0, sq = 0.0;
  for (std::size_t i = 0; i < w1; ++i) {
    mean += p[i];
    sq += static_cast<double>(p[i]) * p[i];
  }
  mean /= w1;
  CHECK(std::abs(mean) < 1e-3);
  CHECK(sq / w1 == doctest::Approx(he * he / 3.0).epsilon(0.02));  // variance of U(-r, r)
}

TEST_CASE("mlp: a few SGD steps decrease the loss on a separable set") {
  Mlp m({10, 16, 3}, 4);
  std::vector<float> x;
  std::vector<std::uint8_t> y;
  separable_set(64, 10, 31, x, y);
  std::vector<float> g(m.num_params());
  const double first = m.loss_and_grad(x, y, 64, g);
  double last = first;
  for (int step = 0; step < 10; ++step) {
    test::sgd_step(m, g, 0.5f);
    const double l = m.loss_and_grad(x, y, 64, g);
    CHECK(l < last + 1e-9);
    last = l;
  }
  CHECK(last < 0.7 * first);
}

TEST_CASE("mlp: learns a trivially learnable set and evaluate() reports it") {
  Mlp m({10, 16, 3}, 4);
  std::vector<float> x, xt;
  std::vector<std::uint8_t> y, yt;
  separable_set(256, 10, 41, x, y);
  separable_set(100, 10, 51, xt, yt);
  const EvalResult before = m.evaluate(xt, yt, 100);
  std::vector<float> g(m.num_params());
  for (int epoch = 0; epoch < 20; ++epoch) {
    for (std::size_t s = 0; s < 256; s += 32) {
      m.loss_and_grad(std::span(x).subspan(s * 10), std::span(y).subspan(s), 32, g);
      test::sgd_step(m, g, 0.5f);
    }
  }
  const EvalResult after = m.evaluate(xt, yt, 100);
  MESSAGE("before: loss ", before.loss, " acc ", before.accuracy, "; after: loss ", after.loss, " acc ",
          after.accuracy);
  CHECK(after.accuracy >= 0.99);
  CHECK(after.loss < before.loss);
}

TEST_CASE("mlp: evaluate() in chunks equals one big batch") {
  Mlp m({784, 128, 10}, 5);
  const std::size_t n = 100;  // > kMinEvalChunk, not a multiple of it
  const auto x = uniform_floats(n * 784, 61);
  const auto y = test::random_labels(n, 10, 62);
  const EvalResult r = m.evaluate(x, y, n);
  CHECK(m.scratch_batch_capacity() == Mlp::kMinEvalChunk);
  std::vector<float> g(m.num_params());
  const double full = m.loss_and_grad(x, y, n, g);
  CHECK(r.loss == doctest::Approx(full).epsilon(1e-6));
  CHECK(r.accuracy >= 0.0);
  CHECK(r.accuracy <= 1.0);
  CHECK(m.evaluate(x, y, 0).loss == 0.0);
}

TEST_CASE("mlp: steady state: no operator-new allocations, scratch stays put") {
  Mlp m(Mlp::parse_spec("mlp"), 6);
  const auto x = uniform_floats(32 * 784, 71);
  const auto y = test::random_labels(32, 10, 72);
  std::vector<float> g(m.num_params());
  m.loss_and_grad(x, y, 32, g);
  const std::size_t cap = m.scratch_batch_capacity();
  const std::size_t floats = m.scratch_floats();
  CHECK(cap == 32);
  CHECK(floats == (128 + 10 + 2 * 128) * 32);
  const std::size_t before = test::allocation_count();
  for (int i = 0; i < 20; ++i) {
    m.loss_and_grad(x, y, 32, g);
    m.loss_and_grad(x, y, 16, g);  // smaller batches reuse the buffers
    m.evaluate(x, y, 32);
  }
  const std::size_t after = test::allocation_count();
  CHECK(after == before);
  CHECK(m.scratch_batch_capacity() == cap);
  CHECK(m.scratch_floats() == floats);
}

TEST_CASE("mlp: bad arguments throw std::invalid_argument") {
  Mlp m({4, 3, 2}, 1);
  std::vector<float> x(8, 0.5f), g(m.num_params()), short_g(m.num_params() - 1);
  std::vector<std::uint8_t> y = {0, 1}, bad_y = {0, 2};
  CHECK_NOTHROW(m.loss_and_grad(x, y, 2, g));
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 0, g), std::invalid_argument);
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 3, g), std::invalid_argument);       // x and y too short
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 2, short_g), std::invalid_argument);  // grad size
  CHECK_THROWS_AS(m.loss_and_grad(x, bad_y, 2, g), std::invalid_argument);    // label >= classes
  CHECK_THROWS_AS(m.evaluate(x, bad_y, 2), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({4}, 1), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({4, 0, 2}, 1), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({4, 1}, 1), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({4, 257}, 1), std::invalid_argument);
  CHECK_NOTHROW(Mlp({4, 256}, 1));
}

}  // namespace
}  // namespace signfed::model
