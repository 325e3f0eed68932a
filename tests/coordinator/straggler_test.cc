// Straggler policies: which updates count, and how long a simulated round lasts.
#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>

#include "coordinator/straggler.h"

using namespace signfed::coord;

namespace {
std::vector<Arrival> arrivals(std::initializer_list<double> ms) {
  std::vector<Arrival> a;
  std::uint32_t id = 0;
  for (double m : ms) a.push_back({id++, m});
  return a;
}
bool has(const std::vector<std::uint32_t>& v, std::uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }
}  // namespace

TEST_CASE("straggler: parse_policy accepts the documented forms and rejects the rest") {
  CHECK(parse_policy("all").kind == StragglerPolicy::Kind::all);
  CHECK(parse_policy("deadline").kind == StragglerPolicy::Kind::deadline);
  CHECK(parse_policy("adaptive:0.8").quantile == 0.8);
  CHECK(parse_policy("adaptive").quantile == 0.9);
  CHECK(parse_policy("overselect:3").extra == 3);
  for (const char* bad : {"", "fast", "adaptive:0", "adaptive:1.5", "adaptive:x", "overselect:0", "overselect",
                          "all:1", "deadline:5"})
    CHECK_THROWS_AS(parse_policy(bad), std::invalid_argument);
}

TEST_CASE("straggler: wait-for-all counts everyone and lasts as long as the slowest") {
  const auto a = admit_virtual(parse_policy("all"), arrivals({10, 500, 30}), 3, 100);
  CHECK(a.counted.size() == 3);
  CHECK(a.late.empty());
  CHECK(a.round_ms == 500);
}

TEST_CASE("straggler: a fixed deadline counts the punctual and marks the rest late") {
  const auto a = admit_virtual(parse_policy("deadline"), arrivals({10, 500, 30, 99}), 4, 100);
  CHECK(a.counted.size() == 3);
  REQUIRE(a.late.size() == 1);
  CHECK(a.late[0] == 1);
  CHECK(a.round_ms == 100);  // the coordinator waited for the straggler until the deadline
  const auto b = admit_virtual(parse_policy("deadline"), arrivals({10, 20}), 2, 100);
  CHECK(b.round_ms == 20);   // everyone in time: the round ends with the last update
  const auto c = admit_virtual(parse_policy("deadline"), arrivals({10}), 3, 100);
  CHECK(c.round_ms == 100);  // someone dropped out: waited until the deadline
}

TEST_CASE("straggler: over-selection keeps the first M of M+E") {
  const auto a = admit_virtual(parse_policy("overselect:2"), arrivals({50, 10, 40, 30, 20}), 5, 1000);
  CHECK(a.counted.size() == 3);
  CHECK(has(a.counted, 1));
  CHECK(has(a.counted, 4));
  CHECK(has(a.counted, 3));
  CHECK(a.late.size() == 2);
  CHECK(a.round_ms == 30);
  CHECK(updates_needed(parse_policy("overselect:2"), 5) == 3);
  CHECK(updates_needed(parse_policy("deadline"), 5) == 5);
}

TEST_CASE("straggler: the adaptive deadline follows a quantile of recent latencies") {
  LatencyHistory h;
  const auto p = parse_policy("adaptive:0.9");
  CHECK(round_deadline_ms(p, h, 5000) == 5000);  // no history yet
  for (int r = 0; r < 10; ++r) {
    std::vector<double> lat(10, 100.0);
    lat[9] = 1000.0;  // one client 10x slower
    h.add_round(lat);
  }
  // 90th percentile of {100 x9, 1000} is 100: deadline 120 ms drops the slow client.
  CHECK(round_deadline_ms(p, h, 5000) == doctest::Approx(120.0));
  CHECK(round_deadline_ms(parse_policy("adaptive:1.0"), h, 5000) == doctest::Approx(1200.0));
  CHECK(round_deadline_ms(parse_policy("deadline"), h, 5000) == 5000);
  CHECK(h.all().size() == kHistoryRounds * 10);  // only the last rounds are kept
  const auto a = admit_virtual(p, arrivals({100, 100, 1000}), 3, 120);
  CHECK(a.counted.size() == 2);
  CHECK(a.late == std::vector<std::uint32_t>{2});
}
