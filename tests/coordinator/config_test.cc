#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "coordinator/config.h"

using namespace signfed;

TEST_CASE("config: step schedules") {
  coord::CoordinatorConfig c;
  c.step_size = 0.01f;
  CHECK(c.step_at(0) == 0.01f);
  CHECK(c.step_at(99) == 0.01f);
  c.schedule = wire::StepSchedule::inv_sqrt;
  CHECK(c.step_at(3) == doctest::Approx(0.005));
  c.schedule = wire::StepSchedule::halving;
  c.halve_every = 10;
  CHECK(c.step_at(9) == 0.01f);
  CHECK(c.step_at(10) == 0.005f);
  CHECK(c.step_at(25) == 0.0025f);
}

TEST_CASE("config: stored JSON round trips the training fields") {
  coord::CoordinatorConfig a;
  a.rounds = 321;
  a.method.method = wire::Method::s3gd;
  a.method.gamma = 0.1f;
  a.method.tie_rule = wire::TieRule::random;
  a.schedule = wire::StepSchedule::halving;
  a.model = "cnn";
  a.endpoint = "tcp://*:7777";
  coord::CoordinatorConfig b;
  coord::apply_stored_config(coord::to_json(a), b);
  CHECK(b.rounds == 321);
  CHECK(b.method.method == wire::Method::s3gd);
  CHECK(b.method.gamma == 0.1f);
  CHECK(b.method.tie_rule == wire::TieRule::random);
  CHECK(b.schedule == wire::StepSchedule::halving);
  CHECK(b.model == "cnn");
  CHECK(b.endpoint == "tcp://*:5555");  // deployment fields are not stored
}
