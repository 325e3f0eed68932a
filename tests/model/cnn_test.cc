#include "tests/model/reference/cnn.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/model/test_util.h"

namespace signfed::model {
namespace {

using test::uniform_floats;

// Direct (loop) LeNet-5 forward in double, written from the layout in cnn.h;
// returns the mean cross-entropy. Pins the documented parameter layout.
double reference_loss(std::span<const double> p, std::span<const float> x, std::span<const std::uint8_t> y,
                      std::size_t batch) {
  const auto off = Cnn::tensor_offsets();
  auto conv_relu = [&](const std::vector<double>& in, std::size_t h, std::size_t w, std::size_t c,
                       std::size_t cout, std::size_t pad, std::size_t wi) {
    const std::size_t ho = h + 2 * pad - 4, wo = w + 2 * pad - 4;
    std::vector<double> out(ho * wo * cout);
    for (std::size_t oy = 0; oy < ho; ++oy)
      for (std::size_t ox = 0; ox < wo; ++ox)
        for (std::size_t co = 0; co < cout; ++co) {
          double acc = p[off[wi + 1] + co];
          for (std::size_t ky = 0; ky < 5; ++ky)
            for (std::size_t kx = 0; kx < 5; ++kx)
              for (std::size_t ci = 0; ci < c; ++ci) {
                const auto iy = static_cast<std::ptrdiff_t>(oy + ky) - static_cast<std::ptrdiff_t>(pad);
                const auto ix = static_cast<std::ptrdiff_t>(ox + kx) - static_cast<std::ptrdiff_t>(pad);
                if (iy < 0 || ix < 0 || iy >= static_cast<std::ptrdiff_t>(h) || ix >= static_cast<std::ptrdiff_t>(w))
                  continue;
                const double v = in[(static_cast<std::size_t>(iy) * w + static_cast<std::size_t>(ix)) * c + ci];
                acc += v * p[off[wi] + co * 25 * c + (ky * 5 + kx) * c + ci];
              }
          out[(oy * wo + ox) * cout + co] = std::max(acc, 0.0);
        }
    return out;
  };
  auto pool = [](const std::vector<double>& in, std::size_t h, std::size_t w, std::size_t c) {
    std::vector<double> out((h / 2) * (w / 2) * c);
    for (std::size_t py = 0; py < h / 2; ++py)
      for (std::size_t px = 0; px < w / 2; ++px)
        for (std::size_t ch = 0; ch < c; ++ch) {
          double m = -1e300;
          for (std::size_t dy = 0; dy < 2; ++dy)
            for (std::size_t dx = 0; dx < 2; ++dx) m = std::max(m, in[((2 * py + dy) * w + 2 * px + dx) * c + ch]);
          out[(py * (w / 2) + px) * c + ch] = m;
        }
    return out;
  };
  auto dense = [&](const std::vector<double>& in, std::size_t out_n, std::size_t wi, bool relu) {
    std::vector<double> out(out_n);
    for (std::size_t o = 0; o < out_n; ++o) {
      double acc = p[off[wi + 1] + o];
      for (std::size_t i = 0; i < in.size(); ++i) acc += in[i] * p[off[wi] + o * in.size() + i];
      out[o] = relu ? std::max(acc, 0.0) : acc;
    }
    return out;
  };
  double loss = 0.0;
  for (std::size_t s = 0; s < batch; ++s) {
    std::vector<double> img(x.begin() + static_cast<std::ptrdiff_t>(s * 784),
                            x.begin() + static_cast<std::ptrdiff_t>((s + 1) * 784));
    auto a = pool(conv_relu(img, 28, 28, 1, 6, 2, 0), 28, 28, 6);
    a = pool(conv_relu(a, 14, 14, 6, 16, 0, 2), 10, 10, 16);
    a = dense(dense(dense(a, 120, 4, true), 84, 6, true), 10, 8, false);
    const double mx = *std::max_element(a.begin(), a.end());
    double sum = 0.0;
    for (double v : a) sum += std::exp(v - mx);
    loss += std::log(sum) - (a[y[s]] - mx);
  }
  return loss / static_cast<double>(batch);
}

// Images whose class is where a bright 6x6 square sits (plus noise).
void blob_set(std::size_t n, std::uint64_t seed, std::vector<float>& x, std::vector<std::uint8_t>& y) {
  x = uniform_floats(n * 784, seed, 0.0f, 0.3f);
  y = test::random_labels(n, 10, seed + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t r0 = 2 + (y[i] / 5) * 14, c0 = 1 + (y[i] % 5) * 5;
    for (std::size_t r = r0; r < r0 + 6; ++r)
      for (std::size_t c = c0; c < c0 + 5; ++c) x[i * 784 + r * 28 + c] = 1.0f;
  }
}

// A LeNet-5 with non-zero biases U(+-bias) (so that their placement is checked
// too), a random batch of images with labels from data_seed and data_seed + 1,
// and the model's loss and gradient there; p: the parameters in double, for
// reference_loss.
struct BiasedAtBatch {
  Cnn m;
  std::size_t batch;
  std::vector<float> x;
  std::vector<std::uint8_t> y;
  std::vector<float> g;
  double loss;
  std::vector<double> p;

  BiasedAtBatch(std::uint64_t model_seed, std::uint64_t bias_seed, float bias, std::size_t batch_size,
                std::uint64_t data_seed)
      : m(model_seed),
        batch(batch_size),
        x(uniform_floats(batch * 784, data_seed)),
        y(test::random_labels(batch, 10, data_seed + 1)),
        g(m.num_params()) {
    const auto off = Cnn::tensor_offsets();
    const auto b = uniform_floats(off.back(), bias_seed, -bias, bias);
    for (std::size_t t = 1; t < 10; t += 2)
      for (std::size_t i = off[t]; i < off[t + 1]; ++i) m.params()[i] = b[i];
    loss = m.loss_and_grad(x, y, batch, g);
    p.assign(m.params().begin(), m.params().end());
  }
};

TEST_CASE("cnn: LeNet-5 parameter count from the formula") {
  Cnn m(1);
  const std::size_t conv = (6 * 1 * 25 + 6) + (16 * 6 * 25 + 16);
  const std::size_t fc = (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10);
  MESSAGE("cnn:lenet5 parameters: ", conv + fc);
  CHECK(m.num_params() == conv + fc);
  CHECK(m.num_params() == 61706);
  CHECK(Cnn::tensor_offsets().back() == 61706);
  CHECK(m.spec() == "cnn:lenet5");
  CHECK(m.input_size() == 784);
  CHECK(m.num_classes() == 10);
}

TEST_CASE("cnn: forward matches a direct-convolution reference of the documented layout") {
  const BiasedAtBatch c(17, 5, 0.1f, 3, 18);
  CHECK(c.loss == doctest::Approx(reference_loss(c.p, c.x, c.y, c.batch)).epsilon(1e-5));
}

// Model gradient (float) against central differences of the double-precision
// reference with a tiny step, at random coordinates of every tensor: no float
// cancellation and (almost surely) no ReLU or max-pool kink inside the step.
TEST_CASE("cnn: gradient matches central finite differences in every tensor") {
  BiasedAtBatch c(23, 7, 0.05f, 2, 24);
  const auto off = Cnn::tensor_offsets();
  const char* names[10] = {"conv1.W", "conv1.b", "conv2.W", "conv2.b", "fc1.W",
                           "fc1.b",   "fc2.W",   "fc2.b",   "fc3.W",   "fc3.b"};
  detail::SplitMix64 pick(26);
  double max_err = 0.0;
  std::size_t nonzero = 0;
  for (std::size_t t = 0; t < 10; ++t) {
    for (int k = 0; k < 6; ++k) {
      const std::size_t i = off[t] + static_cast<std::size_t>(pick.next() % (off[t + 1] - off[t]));
      const double eps = 1e-6, saved = c.p[i];
      c.p[i] = saved + eps;
      const double lp = reference_loss(c.p, c.x, c.y, c.batch);
      c.p[i] = saved - eps;
      const double lm = reference_loss(c.p, c.x, c.y, c.batch);
      c.p[i] = saved;
      const double fd = (lp - lm) / (2 * eps);
      const double err = std::abs(fd - c.g[i]);
      max_err = std::max(max_err, err);
      nonzero += c.g[i] != 0.0f;
      INFO(names[t], " coordinate ", i, ": analytic ", c.g[i], " numeric ", fd);
      CHECK(err <= 1e-5 + 1e-4 * std::abs(fd));
    }
  }
  MESSAGE("cnn max |analytic - numeric| = ", max_err, " (", nonzero, "/60 probed coordinates non-zero)");
  CHECK(nonzero >= 30);
}

TEST_CASE("cnn: init is deterministic in the seed and pinned bit-for-bit") {
  Cnn a(42), b(42), c(43);
  CHECK(std::equal(a.params().begin(), a.params().end(), b.params().begin()));
  CHECK(!std::equal(a.params().begin(), a.params().end(), c.params().begin()));
  CHECK(test::fnv1a(a.params()) == 0xcf08da04b728c3b0ULL);  // changing this changes the wire contract
}

TEST_CASE("cnn: SGD decreases the loss and learns a trivially learnable set") {
  Cnn m(3);
  std::vector<float> x, xt;
  std::vector<std::uint8_t> y, yt;
  blob_set(128, 81, x, y);
  blob_set(64, 91, xt, yt);
  const EvalResult before = m.evaluate(xt, yt, 64);
  std::vector<float> g(m.num_params());
  const double first = m.loss_and_grad(x, y, 32, g);
  double last = first;
  for (int epoch = 0; epoch < 6; ++epoch) {
    for (std::size_t s = 0; s < 128; s += 32) {
      last = m.loss_and_grad(std::span(x).subspan(s * 784), std::span(y).subspan(s), 32, g);
      test::sgd_step(m, g, 0.1f);
    }
  }
  const EvalResult after = m.evaluate(xt, yt, 64);
  MESSAGE("cnn first batch loss ", first, ", last ", last, "; test acc ", before.accuracy, " -> ", after.accuracy);
  CHECK(last < 0.5 * first);
  CHECK(after.loss < before.loss);
  CHECK(after.accuracy >= 0.9);
}

TEST_CASE("cnn: evaluate() in chunks equals one big batch") {
  Cnn m(8);
  const std::size_t n = 40;
  const auto x = uniform_floats(n * 784, 101);
  const auto y = test::random_labels(n, 10, 102);
  const EvalResult r = m.evaluate(x, y, n);
  std::vector<float> g(m.num_params());
  CHECK(r.loss == doctest::Approx(m.loss_and_grad(x, y, n, g)).epsilon(1e-6));
}

TEST_CASE("cnn: steady state: no operator-new allocations, scratch stays put") {
  Cnn m(6);
  const auto x = uniform_floats(32 * 784, 111);
  const auto y = test::random_labels(32, 10, 112);
  std::vector<float> g(m.num_params());
  m.loss_and_grad(x, y, 32, g);
  const std::size_t floats = m.scratch_floats();
  MESSAGE("cnn scratch at batch 32: ", floats, " floats/bytes");
  const std::size_t before = test::allocation_count();
  for (int i = 0; i < 5; ++i) {
    m.loss_and_grad(x, y, 32, g);
    m.loss_and_grad(x, y, 7, g);
    m.evaluate(x, y, 32);
  }
  CHECK(test::allocation_count() == before);
  CHECK(m.scratch_batch_capacity() == 32);
  CHECK(m.scratch_floats() == floats);
}

TEST_CASE("cnn: bad arguments throw std::invalid_argument") {
  Cnn m(1);
  std::vector<float> x(784, 0.5f), g(m.num_params()), short_g(10);
  std::vector<std::uint8_t> y = {3}, bad_y = {10};
  CHECK_NOTHROW(m.loss_and_grad(x, y, 1, g));
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 0, g), std::invalid_argument);
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 2, g), std::invalid_argument);
  CHECK_THROWS_AS(m.loss_and_grad(x, y, 1, short_g), std::invalid_argument);
  CHECK_THROWS_AS(m.loss_and_grad(x, bad_y, 1, g), std::invalid_argument);
  CHECK_THROWS_AS(m.evaluate(x, bad_y, 1), std::invalid_argument);
}

}  // namespace
}  // namespace signfed::model
