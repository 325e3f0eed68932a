// The model update applied identically by coordinator and edge.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "core/codec/step.h"

using namespace signfed;

TEST_CASE("codec: sign step moves exactly the support by +-step") {
  auto t = codec::TernarySigns::zeros(10);
  t.support[0] = 0b00000111;  // coords 0,1,2
  t.negative[0] = 0b00000010; // coord 1 negative
  std::vector<float> x(10, 1.0f);
  codec::apply_sign_step(x, t, 0.25f);
  CHECK(x[0] == 0.75f);
  CHECK(x[1] == 1.25f);
  CHECK(x[2] == 0.75f);
  for (int i = 3; i < 10; ++i) CHECK(x[i] == 1.0f);
  std::vector<float> wrong(9, 0.0f);
  CHECK_THROWS_AS(codec::apply_sign_step(wrong, t, 0.1f), codec::CodecError);
}

TEST_CASE("codec: momentum step follows eqs. (25)-(26)") {
  auto t = codec::TernarySigns::zeros(2);
  t.support[0] = 0b11;
  t.negative[0] = 0b10;
  std::vector<float> x = {0.0f, 0.0f}, v = {0.5f, 0.5f};
  codec::apply_momentum_step(x, v, t, 0.9f, 0.1f);
  CHECK(v[0] == 0.9f * 0.5f + 1.0f);
  CHECK(v[1] == 0.9f * 0.5f - 1.0f);
  CHECK(x[0] == 0.0f - 0.1f * v[0]);
  CHECK(x[1] == 0.0f - 0.1f * v[1]);
}

TEST_CASE("codec: model digest changes with any bit and with the architecture, and is stable") {
  std::vector<float> x(1000, 0.5f);
  const std::uint64_t mlp = codec::architecture_basis("mlp");
  const auto d = codec::model_digest(x, mlp);
  CHECK(d == codec::model_digest(x, mlp));
  // Same parameters, another architecture: replicas of different models never agree.
  CHECK(d != codec::model_digest(x, codec::architecture_basis("mlp:784-128-10 ")));
  x[999] = std::nextafter(0.5f, 1.0f);
  CHECK(d != codec::model_digest(x, mlp));
  CHECK(codec::architecture_basis("") == 0xcbf29ce484222325ull);  // FNV-1a's offset basis
  CHECK(codec::model_digest({}, codec::architecture_basis("")) == 0xcbf29ce484222325ull);
}
