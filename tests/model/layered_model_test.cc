// LayeredModel: every layer kind's and every loss's gradient against central
// finite differences, spec.h's init rule, dropout, the compile-time conv
// instances against the runtime one, and the no-allocation contract.
#include "core/model/layered_model.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/model/internal/stage.h"
#include "core/model/model.h"
#include "tests/model/test_util.h"

namespace signfed::model {
namespace {

struct GradCase {
  const char* name;
  const char* json;
  std::size_t batch;
};

// Small models whose layers, fused or alone, cover every kind and backward
// path: a gradient that flows into an earlier layer's parameters checks every
// later layer's input gradient.
const GradCase kGradCases[] = {
    {"dense + fused relu", R"({"input":[6],"layers":[{"type":"dense","units":5},{"type":"relu"},
      {"type":"dense","units":3}],"loss":"softmax_cross_entropy"})", 5},
    {"conv2d + relu + max_pool2d fused, padding, overlapping pool", R"({"input":[7,7,2],"layers":[
      {"type":"conv2d","filters":3,"kernel":3,"padding":1},{"type":"relu"},{"type":"max_pool2d","size":2},
      {"type":"conv2d","filters":4,"kernel":2},{"type":"relu"},{"type":"max_pool2d","size":2,"stride":1},
      {"type":"flatten"},{"type":"dense","units":3}],"loss":"softmax_cross_entropy"})", 4},
    {"conv2d unfused (GEMM backward + col2im), stride, tanh, sigmoid", R"({"input":[6,6,2],"layers":[
      {"type":"conv2d","filters":3,"kernel":3,"stride":2,"padding":1},{"type":"tanh"},
      {"type":"conv2d","filters":2,"kernel":2},{"type":"sigmoid"},{"type":"flatten"},{"type":"dense","units":3}],
      "loss":"softmax_cross_entropy"})", 4},
    {"conv1d fused and unfused, max_pool1d, avg_pool1d", R"({"input":[10,2],"layers":[
      {"type":"conv1d","filters":3,"kernel":3,"padding":1},{"type":"relu"},{"type":"max_pool1d","size":2},
      {"type":"conv1d","filters":2,"kernel":2,"stride":2,"padding":1},{"type":"tanh"},{"type":"avg_pool1d","size":2},
      {"type":"flatten"},{"type":"dense","units":3}],"loss":"softmax_cross_entropy"})", 4},
    {"standalone max_pool2d, avg_pool2d, global_avg_pool, relu", R"({"input":[6,6,2],"layers":[
      {"type":"conv2d","filters":3,"kernel":3},{"type":"tanh"},{"type":"max_pool2d","size":2,"stride":1},
      {"type":"relu"},{"type":"avg_pool2d","size":2,"stride":1},{"type":"global_avg_pool"},
      {"type":"dense","units":3}],"loss":"softmax_cross_entropy"})", 4},
    {"global_avg_pool over [L, C]", R"({"input":[7,2],"layers":[{"type":"conv1d","filters":4,"kernel":3},
      {"type":"sigmoid"},{"type":"global_avg_pool"},{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})", 4},
    {"dropout (masks replayed by reseed_dropout), standalone relu", R"({"input":[8],"layers":[
      {"type":"dense","units":6},{"type":"dropout","rate":0.3},{"type":"relu"},{"type":"dense","units":5},
      {"type":"sigmoid"},{"type":"dense","units":3}],"loss":"softmax_cross_entropy"})", 5},
    {"binary_cross_entropy", R"({"input":[5],"layers":[{"type":"dense","units":4},{"type":"tanh"},
      {"type":"dense","units":1}],"loss":"binary_cross_entropy"})", 6},
    {"mean_squared_error, one-hot", R"({"input":[5],"layers":[{"type":"dense","units":4},{"type":"relu"},
      {"type":"dense","units":3}],"loss":"mean_squared_error"})", 6},
    {"mean_squared_error, regression (K = 1)", R"({"input":[5],"layers":[{"type":"dense","units":4},{"type":"tanh"},
      {"type":"dense","units":1}],"loss":"mean_squared_error"})", 6},
};

// Loss with the dropout stream restarted, so every evaluation draws the same masks.
double replayed_loss(Model& m, std::span<const float> x, std::span<const std::uint8_t> y, std::size_t batch) {
  m.reseed_dropout(77);
  return test::loss_at(m, x, y, batch);
}

TEST_CASE("layered: every layer kind and loss matches central finite differences on every coordinate") {
  for (const GradCase& c : kGradCases) {
    INFO(std::string(c.name));
    const auto m = make_model(c.json, 3);
    const std::size_t n = m->num_params(), b = c.batch;
    // Labels below 4 keep the K = 1 regression target near the outputs.
    const auto x = test::uniform_floats(b * m->input_size(), 11, -1.0f, 1.0f);
    const auto y = test::random_labels(b, std::min<std::size_t>(m->num_classes(), 4), 12);
    std::vector<float> g(n);
    m->reseed_dropout(77);
    m->loss_and_grad(x, y, b, g);
    auto fd = [&](std::size_t i, float eps) {
      float& p = m->params()[i];
      const float saved = p;
      p = saved + eps;
      const double up = static_cast<double>(p);
      const double lp = replayed_loss(*m, x, y, b);
      p = saved - eps;
      const double down = static_cast<double>(p);
      const double lm = replayed_loss(*m, x, y, b);
      p = saved;
      return (lp - lm) / (up - down);
    };
    auto close = [](double a, double e) { return std::abs(a - e) <= 2e-4 + 1e-2 * std::abs(e); };
    std::size_t nonzero = 0, kinks = 0;
    double max_err = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      // A relu or max-pool kink inside +-eps shows as two step sizes that
      // disagree; such coordinates are skipped (and counted). A wrong backward
      // line disagrees with both alike.
      const double fd1 = fd(i, 1e-3f), fd2 = fd(i, 5e-4f);
      nonzero += g[i] != 0.0f;
      if (!close(fd2, fd1)) {
        ++kinks;
        continue;
      }
      max_err = std::max(max_err, std::abs(fd1 - g[i]));
      if (!close(g[i], fd1)) {
        INFO("coordinate ", i, " of ", n, ": analytic ", g[i], " numeric ", fd1);
        CHECK(close(g[i], fd1));
      }
    }
    MESSAGE(std::string(c.name), ": ", n, " params, ", nonzero, " non-zero, ", kinks,
            " skipped at a kink, max |analytic - numeric| = ", max_err);
    CHECK(kinks * 10 <= n);
    CHECK(nonzero * 2 >= n);  // the check must not pass on zeros
  }
}

TEST_CASE("layered: losses and accuracy by hand") {
  // One dense layer with W = 0 and b = the outputs we want: logits are the biases.
  auto with_outputs = [](const char* loss, std::vector<float> out) {
    const std::string json = std::string(R"({"input":[1],"layers":[{"type":"dense","units":)") +
                             std::to_string(out.size()) + R"(}],"loss":")" + loss + R"("})";
    auto m = make_model(json, 1);
    auto p = m->params();
    std::fill(p.begin(), p.end(), 0.0f);
    std::copy(out.begin(), out.end(), p.begin() + static_cast<std::ptrdiff_t>(out.size()));
    return m;
  };
  const std::vector<float> x = {0.5f, 0.5f};
  {
    auto m = with_outputs("binary_cross_entropy", {2.0f});
    const std::vector<std::uint8_t> y = {1, 0};
    const EvalResult r = m->evaluate(x, y, 2);
    CHECK(r.loss == doctest::Approx((std::log1p(std::exp(-2.0)) + std::log1p(std::exp(2.0))) / 2).epsilon(1e-12));
    CHECK(r.accuracy == 0.5);
  }
  {
    auto m = with_outputs("mean_squared_error", {0.5f, 2.0f, -1.0f});
    const std::vector<std::uint8_t> y = {1, 0};
    const EvalResult r = m->evaluate(x, y, 2);
    const double l1 = (0.25 + 1.0 + 1.0) / 3, l0 = (0.25 + 4.0 + 1.0) / 3;
    CHECK(r.loss == doctest::Approx((l1 + l0) / 2).epsilon(1e-12));
    CHECK(r.accuracy == 0.5);
  }
  {
    auto m = with_outputs("mean_squared_error", {3.4f});
    const std::vector<std::uint8_t> y = {3, 200};
    const EvalResult r = m->evaluate(x, y, 2);
    const double d = static_cast<double>(3.4f);
    CHECK(r.loss == doctest::Approx(((d - 3) * (d - 3) + (d - 200) * (d - 200)) / 2).epsilon(1e-12));
    CHECK(r.accuracy == 0.5);  // round(3.4) == 3
  }
}

// Max |W| of a layer's weights and whether its biases are all zero.
struct Drawn {
  float max_abs;
  bool zero_bias;
};
Drawn drawn(const Model& m, std::size_t from, std::size_t weights, std::size_t biases) {
  const auto p = m.params();
  Drawn d{0.0f, true};
  for (std::size_t i = from; i < from + weights; ++i) d.max_abs = std::max(d.max_abs, std::abs(p[i]));
  for (std::size_t i = from + weights; i < from + weights + biases; ++i) d.zero_bias &= p[i] == 0.0f;
  return d;
}

TEST_CASE("layered: init follows spec.h's rule (relu found past pools, flatten and dropout) and is deterministic") {
  // conv2d -> max_pool -> relu: He; dense -> dropout -> relu: He; dense -> tanh: Glorot; output: Glorot.
  const char* json = R"({"input":[8,8,2],"layers":[{"type":"conv2d","filters":4,"kernel":3},
    {"type":"max_pool2d","size":2},{"type":"relu"},{"type":"flatten"},{"type":"dense","units":30},
    {"type":"dropout","rate":0.5},{"type":"relu"},{"type":"dense","units":20},{"type":"tanh"},
    {"type":"dense","units":3}],"loss":"softmax_cross_entropy"})";
  const auto m = make_model(json, 5, Init::he);
  const std::size_t c_w = 4 * 18, d1_in = 3 * 3 * 4, d1_w = 30 * d1_in, d2_w = 20 * 30, d3_w = 3 * 20;
  const std::size_t off[] = {0, c_w + 4, c_w + 4 + d1_w + 30, c_w + 4 + d1_w + 30 + d2_w + 20};
  struct Expect {
    std::size_t at, weights, biases;
    double limit;
  };
  const Expect layers[] = {{off[0], c_w, 4, std::sqrt(6.0 / 18)},
                           {off[1], d1_w, 30, std::sqrt(6.0 / d1_in)},
                           {off[2], d2_w, 20, std::sqrt(6.0 / (30 + 20))},
                           {off[3], d3_w, 3, std::sqrt(6.0 / (20 + 3))}};
  for (const Expect& e : layers) {
    INFO("layer at ", e.at);
    const Drawn d = drawn(*m, e.at, e.weights, e.biases);
    CHECK(d.max_abs <= e.limit);
    CHECK(d.max_abs > 0.8 * e.limit);  // not a smaller limit
    CHECK(d.zero_bias);
  }
  const auto t = make_model(json, 5, Init::torch);  // W and b ~ U(+-1/sqrt(fan_in))
  const Drawn dt = drawn(*t, off[1], d1_w + 30, 0);
  CHECK(dt.max_abs <= 1.0 / std::sqrt(static_cast<double>(d1_in)));
  CHECK_FALSE(drawn(*t, off[1], d1_w, 30).zero_bias);

  const auto again = make_model(json, 5, Init::he), other = make_model(json, 6, Init::he);
  CHECK(test::fnv1a(m->params()) == test::fnv1a(again->params()));
  CHECK(test::fnv1a(m->params()) != test::fnv1a(other->params()));
}

TEST_CASE("layered: dropout is inverted, train-only, deterministic per stream") {
  // Batch 1, x = 1: dL/dW[0][i] = dz0 * mask[i], so the gradient row shows the mask.
  const std::size_t f = 4000;
  const std::string json = R"({"input":[4000],"layers":[{"type":"dropout","rate":0.3},{"type":"dense","units":2}],)"
                           R"("loss":"softmax_cross_entropy"})";
  const std::string plain = R"({"input":[4000],"layers":[{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})";
  const auto m = make_model(json, 1), ref = make_model(plain, 1);
  REQUIRE(std::equal(m->params().begin(), m->params().end(), ref->params().begin(), ref->params().end()));
  const std::vector<float> x(f, 1.0f);
  const std::vector<std::uint8_t> y = {1};
  std::vector<float> g(m->num_params()), g2(m->num_params()), g_ref(m->num_params());
  m->reseed_dropout(5);
  m->loss_and_grad(x, y, 1, g);
  ref->loss_and_grad(x, y, 1, g_ref);
  std::size_t dropped = 0;
  bool scaled = true;
  const float dz0 = g[2 * f], scale = static_cast<float>(1.0 / (1.0 - 0.3));  // db[0] = dz0
  for (std::size_t i = 0; i < f; ++i) {
    if (g[i] == 0.0f) {
      ++dropped;
    } else {
      scaled &= g[i] == dz0 * scale;  // kept units carry 1/(1 - rate)
    }
  }
  CHECK(scaled);
  CHECK(dropped > f * 0.27);
  CHECK(dropped < f * 0.33);

  // The same stream draws the same masks; the next step draws new ones.
  m->reseed_dropout(5);
  m->loss_and_grad(x, y, 1, g2);
  CHECK(std::memcmp(g.data(), g2.data(), g.size() * sizeof(float)) == 0);
  m->loss_and_grad(x, y, 1, g2);
  CHECK(std::memcmp(g.data(), g2.data(), g.size() * sizeof(float)) != 0);
  m->reseed_dropout(6);
  m->loss_and_grad(x, y, 1, g2);
  CHECK(std::memcmp(g.data(), g2.data(), g.size() * sizeof(float)) != 0);

  // evaluate() never drops: it equals the model without the dropout layer, every time.
  const EvalResult a = m->evaluate(x, y, 1), b = m->evaluate(x, y, 1), r = ref->evaluate(x, y, 1);
  CHECK(a.loss == r.loss);
  CHECK(b.loss == r.loss);
  // Two models with the same seed draw the same masks without reseeding.
  const auto m1 = make_model(json, 9), m2 = make_model(json, 9);
  m1->loss_and_grad(x, y, 1, g);
  m2->loss_and_grad(x, y, 1, g2);
  CHECK(std::memcmp(g.data(), g2.data(), g.size() * sizeof(float)) == 0);
}

// Runs one conv stage forward and backward; returns output, parameter and input gradients.
std::vector<float> run_stage(detail::Stage& s, const std::vector<float>& x, std::size_t batch, std::size_t out_size,
                             std::size_t n_params, std::size_t in_size) {
  s.reserve(batch);
  const float* out = s.forward(x.data(), batch, true);
  std::vector<float> r(out, out + out_size * batch);
  std::vector<float> dout = test::uniform_floats(out_size * batch, 31, -1.0f, 1.0f);
  std::vector<float> grad(n_params), din(in_size * batch);
  s.backward(x.data(), dout.data(), batch, grad.data(), din.data());
  r.insert(r.end(), grad.begin(), grad.end());
  r.insert(r.end(), din.begin(), din.end());
  return r;
}

TEST_CASE("layered: the compile-time LeNet-5 conv instances equal the runtime one bit for bit") {
  struct Geo {
    detail::Window conv, pool;
    std::size_t filters;
  };
  const Geo geos[] = {{{28, 28, 1, 5, 5, 1, 2, 2}, {28, 28, 6, 2, 2, 2, 0, 0}, 6},
                      {{14, 14, 6, 5, 5, 1, 0, 0}, {10, 10, 16, 2, 2, 2, 0, 0}, 16}};
  for (const Geo& g : geos) {
    const std::size_t patch = g.conv.kh * g.conv.kw * g.conv.c, n_params = g.filters * patch + g.filters;
    const std::vector<float> w = test::uniform_floats(n_params, 5, -0.3f, 0.3f);
    const std::size_t in_size = g.conv.h * g.conv.w * g.conv.c, out_size = g.pool.positions() * g.filters;
    const std::vector<float> x = test::uniform_floats(3 * in_size, 6, -1.0f, 1.0f);
    const auto fixed = detail::make_conv_stage(w.data(), g.conv, g.filters, true, g.pool, true);
    const auto runtime = detail::make_conv_stage(w.data(), g.conv, g.filters, true, g.pool, false);
    const auto a = run_stage(*fixed, x, 3, out_size, n_params, in_size);
    const auto b = run_stage(*runtime, x, 3, out_size, n_params, in_size);
    CHECK(typeid(*fixed) != typeid(*runtime));  // the specialisation was picked
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("layered: steady state allocates nothing (cnn preset and a file model with dropout)") {
  for (const char* spec : {"cnn", R"({"input":[16,3],"layers":[{"type":"conv1d","filters":4,"kernel":3},
       {"type":"tanh"},{"type":"avg_pool1d","size":2},{"type":"flatten"},{"type":"dropout","rate":0.2},
       {"type":"dense","units":5}],"loss":"softmax_cross_entropy"})"}) {
    auto m = make_model(spec, 6);
    auto* flat = dynamic_cast<FlatModel*>(m.get());
    REQUIRE(flat != nullptr);
    const auto x = test::uniform_floats(32 * m->input_size(), 71);
    const auto y = test::random_labels(32, m->num_classes(), 72);
    std::vector<float> g(m->num_params());
    m->loss_and_grad(x, y, 32, g);
    const std::size_t before = test::allocation_count();
    for (int i = 0; i < 5; ++i) {
      m->loss_and_grad(x, y, 32, g);
      m->loss_and_grad(x, y, 16, g);
      m->evaluate(x, y, 32);
    }
    CHECK(test::allocation_count() == before);
    CHECK(flat->scratch_batch_capacity() == 32);
  }
}

}  // namespace
}  // namespace signfed::model
