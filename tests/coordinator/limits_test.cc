// EventBudget (event rows per source and in all per minute, tallies of unauthenticated failures), SuspicionMonitor (the
// Byzantine flag) and the progress line: pure, with time and agreements passed in.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "coordinator/event_budget.h"
#include "coordinator/progress.h"
#include "coordinator/suspicion.h"

using namespace signfed::coord;

TEST_CASE("event budget: 20 rows a minute per source, the rest counted and summarised when the minute is over") {
  EventBudget b(20, 1000);
  for (int i = 0; i < 20; ++i) CHECK(b.spend("peer:a", 100.0 + i));
  CHECK(!b.spend("peer:a", 130.0));
  CHECK(!b.spend("peer:a", 150.0));
  CHECK(b.spend("peer:b", 150.0));  // another source has its own budget
  CHECK(b.due(150.0).empty());      // the summary window opened at 130 s
  CHECK(b.spend("peer:a", 161.0));  // a's window opened at 100 s
  const auto rows = b.due(190.0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].kind == "events_suppressed");
  CHECK(rows[0].detail.find("2 event rows suppressed in the last minute from 1 sources") == 0);
  CHECK(b.due(300.0).empty());  // reported once
}

TEST_CASE("event budget: a global cap over all sources - 300 sources write 60 rows a minute, the rest are counted") {
  EventBudget b(20, 60);
  int allowed = 0;
  for (int s = 0; s < 300; ++s)
    for (int k = 0; k < 20; ++k) allowed += b.spend("peer:" + std::to_string(s), 10.0 + s * 0.1);
  CHECK(allowed == 60);
  const auto rows = b.due(75.0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].detail.find("5940 event rows suppressed in the last minute from 297 sources") == 0);
  CHECK(b.spend("peer:299", 75.0));  // a new minute
}

TEST_CASE("event budget: unauthenticated failures are tallied, one summary row per kind a minute") {
  EventBudget b(20, 60);
  for (int i = 0; i < 300; ++i)
    b.tally("auth_rejected", "zap:key" + std::to_string(i) + "@10.0.0.1", "key key" + std::to_string(i), 5.0 + i * 0.1);
  for (int i = 0; i < 6000; ++i) b.tally("bad_message", "peer:r" + std::to_string(i / 20), "bad envelope", 6.0);
  CHECK(b.due(64.0).empty());
  auto rows = b.due(65.0);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].kind == "auth_rejected");
  CHECK(rows[0].detail.find("300 CURVE handshakes rejected from 300 keys/addresses in the last minute") == 0);
  CHECK(rows[0].detail.find("the last: key key299") != std::string::npos);
  CHECK(rows[1].kind == "bad_message");
  CHECK(rows[1].detail.find("6000 malformed messages from 300 peers") == 0);
  b.tally("bad_frame", "peer:x", "3 frames", 70.0);
  rows = b.due(71.0, /*flush=*/true);  // the run ends: what is pending, now
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].detail.find("1 multipart messages") == 0);
}

TEST_CASE("event budget: a storm of fresh sources does not grow it without bound") {
  EventBudget b(1, 1000000);
  CHECK(b.spend("first", 0.0));
  CHECK(!b.spend("first", 1.0));
  for (int i = 0; i < 100001; ++i) b.spend(std::to_string(i), 2.0);
  CHECK(b.spend("first", 3.0));  // the map was cleared: 'first' starts over
  for (int i = 0; i < 50000; ++i) b.tally("auth_rejected", std::to_string(i), "x", 4.0);
  const auto rows = b.due(100.0);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].detail.find("50000 CURVE handshakes rejected from at least 10000 keys") == 0);
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
