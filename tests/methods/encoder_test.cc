// Client-side compressors against the papers' definitions.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/methods/encoder.h"
#include "core/data/rng.h"
#include "tests/support/random_floats.h"

using namespace signfed;
using codec::CodecError;
using wire::Method;

namespace {

std::vector<float> gaussianish(std::size_t n, std::uint64_t seed) { return test::normal_floats(n, seed); }

const kernels::SignKernels& K() { return kernels::scalar_sign_kernels(); }

}  // namespace

TEST_CASE("codec: topk_count and auto_gamma follow the paper's rules") {
  CHECK(methods::topk_count(101770, 0.1) == 10177);
  CHECK(methods::topk_count(1000, 0.0001) == 1);
  CHECK(methods::topk_count(10, 1.0) == 10);
  CHECK(methods::topk_count(0, 0.5) == 0);
  // M^(2/3) K = N  =>  gamma = M^(-2/3): 10 voters -> 0.2154, 100 -> 0.0464.
  CHECK(methods::auto_gamma(10, 101770) == doctest::Approx(0.21544).epsilon(1e-4));
  CHECK(methods::auto_gamma(100, 101770) == doctest::Approx(0.046416).epsilon(1e-4));
}

TEST_CASE("codec: s3gd sends exactly K signs and updates the error memory by eq. (6)") {
  const std::size_t n = 5000;
  methods::UpdateEncoder enc(n, K());
  const methods::MethodConfig cfg{.method = Method::s3gd, .gamma = 0.05f, .eta = 0.7f};
  std::vector<float> e_prev(n, 0.0f);
  for (int round = 0; round < 4; ++round) {
    const auto gt = gaussianish(n, 100 + round);
    // g = g~ + eta * e  (eq. 5)
    std::vector<float> g(n);
    for (std::size_t i = 0; i < n; ++i) g[i] = gt[i] + cfg.eta * e_prev[i];
    const auto p = enc.encode(gt, cfg, 0);
    const auto s = codec::decode_sparse(p.view());
    REQUIRE(s.index.size() == methods::topk_count(n, cfg.gamma));
    // The selected are the K largest |g|.
    std::vector<float> mag(n);
    for (std::size_t i = 0; i < n; ++i) mag[i] = std::fabs(g[i]);
    std::vector<float> sorted = mag;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(s.index.size()) - 1, sorted.end(),
                     std::greater<>());
    const float kth = sorted[s.index.size() - 1];
    for (auto i : s.index) CHECK(mag[i] >= kth);
    // e' = g - TopK(g)  (eq. 6): zero on the support, g elsewhere.
    std::vector<float> expect = g;
    for (std::size_t j = 0; j < s.index.size(); ++j) {
      expect[s.index[j]] = 0.0f;
      CHECK(s.negative[j] == (g[s.index[j]] < 0 ? 1 : 0));
    }
    const auto e = enc.error_memory();
    REQUIRE(e.size() == n);
    CHECK(std::equal(e.begin(), e.end(), expect.begin()));
    e_prev.assign(e.begin(), e.end());
  }
}

TEST_CASE("codec: randk picks K distinct sorted coordinates, same for the same seed") {
  const std::size_t n = 10000;
  methods::UpdateEncoder enc(n, K());
  const methods::MethodConfig cfg{.method = Method::randk, .gamma = 0.01f};
  const auto g = gaussianish(n, 1);
  const auto a = codec::decode_sparse(enc.encode(g, cfg, 42).view());
  const auto b = codec::decode_sparse(enc.encode(g, cfg, 42).view());
  const auto c = codec::decode_sparse(enc.encode(g, cfg, 43).view());
  CHECK(a.index.size() == 100);
  CHECK(std::is_sorted(a.index.begin(), a.index.end()));
  CHECK(a.index == b.index);
  CHECK(a.index != c.index);
}

TEST_CASE("codec: stochastic sign is unbiased (Safaryan Def. 3)") {
  const std::size_t n = 8;
  const std::vector<float> g = {0.5f, -0.25f, 0.1f, 0.0f, -0.8f, 0.05f, 0.3f, -0.1f};
  methods::UpdateEncoder enc(n, K());
  const methods::MethodConfig cfg{.method = Method::stochsign};
  std::vector<double> mean(n, 0.0);
  const int trials = 40000;
  float scale = 0;
  for (int t = 0; t < trials; ++t) {
    const auto p = enc.encode(g, cfg, static_cast<std::uint64_t>(t));
    scale = p.scale;
    const auto s = codec::decode_ternary(p.view());
    for (std::size_t i = 0; i < n; ++i) mean[i] += p.scale * s.at(static_cast<std::uint32_t>(i));
  }
  double norm = 0;
  for (float v : g) norm += double(v) * v;
  CHECK(scale == doctest::Approx(std::sqrt(norm)).epsilon(1e-6));
  // Each coordinate: variance <= ||g||^2 ~ 1.1; 4 sigma over 40000 trials ~ 0.021.
  for (std::size_t i = 0; i < n; ++i) CHECK(std::fabs(mean[i] / trials - g[i]) < 0.025);
}

TEST_CASE("codec: efsign residual is p - ||p||_1/d sign(p)") {
  const std::size_t n = 257;
  methods::UpdateEncoder enc(n, K());
  const methods::MethodConfig cfg{.method = Method::efsign, .eta = 1.0f};
  const auto g1 = gaussianish(n, 8);
  const auto p1 = enc.encode(g1, cfg, 0);
  double l1 = 0;
  for (float v : g1) l1 += std::fabs(v);
  CHECK(p1.scale == doctest::Approx(l1 / n));
  const auto s = codec::decode_ternary(p1.view());
  const auto e = enc.error_memory();
  for (std::size_t i = 0; i < n; ++i) CHECK(e[i] == g1[i] - p1.scale * static_cast<float>(s.at(static_cast<std::uint32_t>(i))));
}

TEST_CASE("codec: NaN or Inf in a gradient is a clear error") {
  methods::UpdateEncoder enc(16, K());
  for (Method m : {Method::signsgd, Method::s3gd, Method::fedsgd}) {
    methods::MethodConfig cfg;
    cfg.method = m;
    cfg.gamma = 0.5f;
    std::vector<float> g(16, 1.0f);
    g[5] = std::nanf("");
    CHECK_THROWS_WITH_AS(enc.encode(g, cfg, 0), doctest::Contains("coordinate 5 is NaN"), CodecError);
    g[5] = INFINITY;
    CHECK_THROWS_WITH_AS(enc.encode(g, cfg, 0), doctest::Contains("infinite"), CodecError);
  }
  std::vector<float> short_g(15, 0.0f);
  CHECK_THROWS_AS(enc.encode(short_g, methods::MethodConfig{}, 0), CodecError);
}

TEST_CASE("codec: method names parse both ways") {
  for (Method m : wire::EnumValuesMethod()) {
    Method back{};
    REQUIRE(methods::parse_method(methods::method_name(m), &back));
    CHECK(back == m);
  }
  Method x{};
  CHECK_FALSE(methods::parse_method("adam", &x));
}

TEST_CASE("codec: every sign method lets exact zeros abstain (sign(0) = 0)") {
  // A gradient with dead units: whole blocks of exact zeros, as ReLU gives them.
  const std::size_t n = 4000;
  std::vector<float> g = gaussianish(n, 21);
  for (std::size_t i = 1000; i < 1800; ++i) g[i] = 0.0f;
  g[5] = -0.0f;
  for (Method m : {Method::signsgd, Method::signum, Method::s3gd, Method::randk, Method::efsign}) {
    methods::UpdateEncoder enc(n, K());
    methods::MethodConfig cfg;
    cfg.method = m;
    cfg.gamma = 0.5f;
    const auto p = enc.encode(g, cfg, 3);
    const auto t = codec::decode_ternary(p.view());
    CAPTURE(methods::method_name(m));
    bool zeros_abstain = true, signs_right = true;
    std::size_t voted = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (g[i] == 0.0f) zeros_abstain &= t.at(i) == 0;
      else if (t.at(i) != 0) signs_right &= t.at(i) == (g[i] > 0 ? 1 : -1), ++voted;
    }
    CHECK(zeros_abstain);
    CHECK(signs_right);
    if (m == Method::signsgd || m == Method::signum || m == Method::efsign) CHECK(voted == n - 801);
  }
}

TEST_CASE("codec: error memory only once s3gd or efsign uses it, and swap takes none back") {
  const std::size_t n = 64;
  methods::UpdateEncoder enc(n, K());
  const auto g = gaussianish(n, 3);
  codec::SignPacket out;
  for (Method m : {Method::signsgd, Method::signum, Method::fedsgd, Method::fedavg}) {
    enc.encode_into(g, {.method = m}, 0, out);
    (void)enc.encode(g, {.method = m}, 0);
  }
  CHECK(enc.error_memory().empty());  // an edge running signsgd holds no n floats for it
  std::vector<float> mine(n, 0.5f);
  enc.swap_error_memory(mine);  // a client's memory in, the encoder's none out
  CHECK(mine.empty());
  CHECK(enc.error_memory().size() == n);
  enc.swap_error_memory(mine);
  CHECK(mine.size() == n);
  CHECK(enc.error_memory().empty());
  std::vector<float> wrong(n - 1);
  CHECK_THROWS_AS(enc.swap_error_memory(wrong), codec::CodecError);
  enc.encode_into(g, {.method = Method::s3gd, .gamma = 0.25f}, 0, out);
  CHECK(enc.error_memory().size() == n);
}
