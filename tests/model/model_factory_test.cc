#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "model/model.h"

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
}  // namespace signfed::model
