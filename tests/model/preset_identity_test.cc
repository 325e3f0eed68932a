// The presets run on LayeredModel; the hand-written Mlp and Cnn stay as the
// references they must equal bit for bit: parameters after init (both Init
// rules), gradients and losses over several SGD steps, evaluate().
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/model/reference/cnn.h"
#include "tests/model/reference/mlp.h"
#include "core/model/model.h"
#include "tests/model/test_util.h"

namespace signfed::model {
namespace {

bool bits_equal(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

void check_identical(Model& ref, Model& gen, std::size_t batch) {
  REQUIRE(ref.num_params() == gen.num_params());
  CHECK(bits_equal(ref.params(), gen.params()));
  CHECK(ref.architecture() == gen.architecture());
  const std::size_t n = 3 * batch;
  const auto x = test::uniform_floats(n * ref.input_size(), 11);
  const auto y = test::random_labels(n, ref.num_classes(), 12);
  std::vector<float> g_ref(ref.num_params()), g_gen(gen.num_params());
  for (std::size_t step = 0; step < 3; ++step) {
    const std::span<const float> xs(x.data() + step * batch * ref.input_size(), batch * ref.input_size());
    const std::span<const std::uint8_t> ys(y.data() + step * batch, batch);
    const double l_ref = ref.loss_and_grad(xs, ys, batch, g_ref);
    const double l_gen = gen.loss_and_grad(xs, ys, batch, g_gen);
    CHECK(l_ref == l_gen);
    CHECK(bits_equal(g_ref, g_gen));
    test::sgd_step(ref, g_ref, 0.05f);
    test::sgd_step(gen, g_gen, 0.05f);
    CHECK(bits_equal(ref.params(), gen.params()));
  }
  const EvalResult e_ref = ref.evaluate(x, y, n), e_gen = gen.evaluate(x, y, n);
  CHECK(e_ref.loss == e_gen.loss);
  CHECK(e_ref.accuracy == e_gen.accuracy);
}

TEST_CASE("presets: the generic engine equals the reference Mlp bit for bit") {
  for (Init init : {Init::he, Init::torch}) {
    for (const char* spec : {"mlp", "mlp:784-32-10", "mlp:20-7-5-3"}) {
      INFO(spec, " ", init_name(init));
      Mlp ref(Mlp::parse_spec(spec), 42, init);
      const auto gen = make_model(spec, 42, init);
      CHECK(gen->spec() == ref.spec());
      check_identical(ref, *gen, 16);
    }
  }
}

TEST_CASE("presets: the generic engine equals the reference Cnn bit for bit") {
  for (Init init : {Init::he, Init::torch}) {
    INFO(init_name(init));
    Cnn ref(7, init);
    const auto gen = make_model("cnn", 7, init);
    CHECK(gen->spec() == "cnn:lenet5");
    check_identical(ref, *gen, 8);
  }
}

}  // namespace
}  // namespace signfed::model
