// EventBudget (event rows per source per minute), SuspicionMonitor (the
// Byzantine flag) and the progress line: pure, with time and agreements passed in.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "coordinator/event_budget.h"
#include "coordinator/progress.h"
#include "coordinator/suspicion.h"

using namespace signfed::coord;

TEST_CASE("event budget: 20 rows a minute per source, the rest counted and reported when the window turns") {
  EventBudget b(20);
  for (int i = 0; i < 20; ++i) CHECK(b.spend("peer:a", 100.0 + i).allowed);
  CHECK(!b.spend("peer:a", 130.0).allowed);
  CHECK(!b.spend("peer:a", 150.0).allowed);
  CHECK(b.spend("peer:b", 150.0).allowed);  // another source has its own budget
  const auto d = b.spend("peer:a", 161.0);  // the window opened at 100 s
  CHECK(d.allowed);
  REQUIRE(d.suppressed_last_window);
  CHECK(*d.suppressed_last_window == 2);
  CHECK(!b.spend("peer:a", 162.0).suppressed_last_window);
}

TEST_CASE("event budget: a storm of fresh sources does not grow it without bound") {
  EventBudget b(1);
  CHECK(b.spend("first", 0.0).allowed);
  CHECK(!b.spend("first", 1.0).allowed);
  for (int i = 0; i < 100001; ++i) b.spend(std::to_string(i), 2.0);
  CHECK(b.spend("first", 3.0).allowed);  // the map was cleared: 'first' starts over
}

TEST_CASE("suspicion: the one client that disagrees far more than the rest is flagged once, after min_rounds") {
  SuspicionMonitor m(4.0, 20);
  const std::vector<std::uint32_t> ids = {0, 1, 2, 3, 4, 5};
  std::vector<SuspicionMonitor::Flag> all;
  for (int round = 0; round < 40; ++round) {
    std::vector<double> agree = {0.90, 0.91, 0.89, 0.92, 0.90, 0.40};  // client 5 mostly against the vote
    for (auto f : m.observe(ids, agree)) {
      CHECK(round == 19);  // the 20th round: enough history
      all.push_back(f);
    }
  }
  REQUIRE(all.size() == 1);
  CHECK(all[0].client_id == 5);
  CHECK(all[0].mean == doctest::Approx(0.60));
  CHECK(all[0].rounds == 20);
  CHECK(all[0].detail().find("threshold") != std::string::npos);
}

TEST_CASE("suspicion: off with 0 MADs, and silent with fewer than 5 clients to compare") {
  SuspicionMonitor off(0.0, 1), few(4.0, 1);
  const std::vector<std::uint32_t> six = {0, 1, 2, 3, 4, 5}, four = {0, 1, 2, 3};
  for (int round = 0; round < 10; ++round) {
    CHECK(off.observe(six, std::vector<double>{0.9, 0.9, 0.9, 0.9, 0.9, 0.1}).empty());
    CHECK(few.observe(four, std::vector<double>{0.9, 0.9, 0.9, 0.1}).empty());
  }
}

TEST_CASE("progress line: what a round did, in one line") {
  RoundRow row;
  row.round = 149;
  row.test_accuracy = 0.7874;
  row.train_loss = 0.515;
  row.selected = 10;
  row.received = 9;
  row.late = 1;
  row.uplink_bytes = 76200;
  row.downlink_bytes = 191200;
  row.coords_moved = 485;
  row.started_at = 100.0;
  row.ended_at = 100.062;
  const std::string line = progress_line(row, 300, 1000);
  CHECK(line.find("round   150/300") == 0);
  CHECK(line.find("acc  78.74%") != std::string::npos);
  CHECK(line.find("train-loss  0.515") != std::string::npos);
  CHECK(line.find("clients 9/10 late 1 rej 0") != std::string::npos);
  CHECK(line.find("up 76.2 kB  down 191.2 kB") != std::string::npos);
  CHECK(line.find("moved 48.5%") != std::string::npos);
  CHECK(line.find("62 ms") != std::string::npos);
  row.test_accuracy.reset();
  CHECK(progress_line(row, 300, 1000).find("acc       -") != std::string::npos);
}
