#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/model/model.h"

namespace signfed::model {
namespace {

TEST_CASE("make_model: known specs and canonical round trip") {
  struct Case {
    const char* spec;
    const char* canonical;
    std::size_t params;
  };
  const Case cases[] = {
      {"mlp", "mlp:784-128-10", 101770},
      {"mlp:784-128-10", "mlp:784-128-10", 101770},
      {"mlp:784-256-64-10", "mlp:784-256-64-10", 784 * 256 + 256 + 256 * 64 + 64 + 64 * 10 + 10},
      {"mlp:20-7-5", "mlp:20-7-5", 20 * 7 + 7 + 7 * 5 + 5},
      {"mlp:3-2", "mlp:3-2", 8},
      {"cnn", "cnn:lenet5", 61706},
      {"cnn:lenet5", "cnn:lenet5", 61706},
  };
  for (const Case& c : cases) {
    INFO(c.spec);
    const auto m = make_model(c.spec, 5);
    CHECK(m->spec() == c.canonical);
    CHECK(m->num_params() == c.params);
    CHECK(m->params().size() == c.params);
    const auto again = make_model(m->spec(), 5);
    CHECK(std::equal(m->params().begin(), m->params().end(), again->params().begin(), again->params().end()));
  }
}

TEST_CASE("make_model: bad specs throw std::invalid_argument naming the spec") {
  const char* bad[] = {"",           "foo",          "MLP",           " mlp",         "mlp ",
                       "mlp:",       "mlp:784",      "mlp:784-",      "mlp:784--10",  "mlp:-784-10",
                       "mlp:784-0-10", "mlp:784-128-1", "mlp:784-128-300", "mlp:a-b",   "mlp:784-128-10x",
                       "mlp:99999999999999999999999-10", "mlp:784-20000000-10", "cnn:", "cnn:resnet", "cnn5"};
  for (const char* spec : bad) {
    INFO("spec '", std::string(spec), "'");
    try {
      make_model(spec, 1);
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      CHECK(msg.find(std::string("'") + spec + "'") != std::string::npos);
    }
  }
  try {
    make_model("foo", 1);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).starts_with("unknown model 'foo': expected mlp"));
  }
}

}  // namespace
TEST_CASE("make_model: Init::torch draws weights and biases from U(+-1/sqrt(fan_in)), as torch.nn.Linear") {
  // mlp:784-128-10: layer 0 W [128 x 784] then b [128], layer 1 W [10 x 128] then b [10].
  const auto he = make_model("mlp", 3, Init::he);
  const auto a = make_model("mlp", 3, Init::torch);
  const auto b = make_model("mlp", 3, Init::torch);
  CHECK(std::equal(a->params().begin(), a->params().end(), b->params().begin()));  // deterministic
  const auto p = a->params();
  const std::size_t w0 = 784 * 128, b0 = w0 + 128, w1 = b0 + 128 * 10;
  auto within = [&](std::size_t from, std::size_t to, double bound, double* max_abs) {
    bool ok = true;
    *max_abs = 0.0;
    for (std::size_t i = from; i < to; ++i) {
      ok &= std::fabs(p[i]) <= bound;
      *max_abs = std::max(*max_abs, static_cast<double>(std::fabs(p[i])));
    }
    return ok;
  };
  double m = 0.0;
  CHECK(within(0, b0, 1.0 / std::sqrt(784.0), &m));  // W0 and b0
  CHECK(m > 0.95 / std::sqrt(784.0));                 // and it fills the range
  CHECK(within(b0, p.size(), 1.0 / std::sqrt(128.0), &m));
  CHECK(m > 0.95 / std::sqrt(128.0));
  CHECK(p[w0] != 0.0f);  // biases are drawn too (Init::he leaves them 0)
  CHECK(he->params()[w0] == 0.0f);
  CHECK(p[w1] != 0.0f);
  const auto cnn = make_model("cnn", 3, Init::torch);
  CHECK(cnn->params()[6 * 25] != 0.0f);  // conv1.b, after conv1.W [6 x 25]
  Init parsed = Init::he;
  CHECK(parse_init("torch", &parsed));
  CHECK(parsed == Init::torch);
  CHECK_FALSE(parse_init("xavier", &parsed));
}

}  // namespace signfed::model
