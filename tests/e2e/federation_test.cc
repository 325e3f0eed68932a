// End-to-end: a real coordinator and real edge processes train on
// Fashion-MNIST over tcp loopback; the SQLite log is checked afterwards.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "core/codec/packet.h"
#include "tests/e2e/federation.h"

using namespace signfed;
using namespace signfed::test;

namespace {

// Starts a coordinator for `clients` with coord_args and as many edges with
// edge_args, runs them to the end and returns the last round's test accuracy.
double train(Federation& f, int clients, const std::vector<std::string>& coord_args,
             const std::vector<std::string>& edge_args, double timeout_s) {
  f.start_coordinator(clients, coord_args);
  f.start_edges(clients, edge_args);
  f.require_coordinator_success(timeout_s);
  return query_number(f.db, "SELECT test_accuracy FROM rounds ORDER BY round DESC LIMIT 1");
}

// Every round logged once; uplink = sum of the counted Update frames; every
// client's final model equals the coordinator's.
void check_log_and_digests(Federation& f, int rounds) {
  const std::string& db = f.db;
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT COUNT(DISTINCT round) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT MIN(round) FROM rounds") == 0);
  CHECK(query_number(db, "SELECT MAX(round) FROM rounds") == rounds - 1);
  CHECK(query_text(db, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1") == "completed");
  CHECK(query_number(db,
                     "SELECT COUNT(*) FROM rounds r WHERE r.uplink_bytes != (SELECT COALESCE(SUM(bytes),0) FROM "
                     "updates u WHERE u.run_id=r.run_id AND u.round=r.round AND u.status='counted')") == 0);
  CHECK(query_number(db, "SELECT SUM(uplink_bytes) FROM rounds") > 0);
  f.check_edges_final_model();
}

}  // namespace

TEST_CASE("e2e: signsgd, 5 edge processes, IID Fashion-MNIST, 200 rounds reaches 75%") {
  Federation f;
  const double acc = train(f, 5,
                           {"--rounds", "200", "--method", "signsgd", "--lr", "0.001", "--batch", "64",
                            "--eval-every", "50", "--round-timeout", "20000"},
                           {"--partition", "iid"}, 600);
  MESSAGE("signsgd IID accuracy after 200 rounds: " << acc);
  CHECK(acc >= 0.75);
  // A dense sign packet is ceil(N/8) bytes: 12,722 for the 101,770-parameter MLP.
  // Exact zeros abstain (sign(0) = 0), coded as runs: a packet stays within
  // 5% of 1 bit a coordinate when zeros are few.
  CHECK(query_number(f.db, "SELECT MAX(payload_bytes) FROM updates WHERE status='counted'") <= 1.05 * 12722);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE status='counted'") == 1000);
  check_log_and_digests(f, 200);
}

TEST_CASE("e2e: s3gd gamma=0.1 on a one-class-per-client split of 10 clients reaches 65% at 300 rounds") {
  Federation f;
  const double acc = train(f, 10,
                           {"--rounds", "300", "--method", "s3gd", "--gamma", "0.1", "--eta", "1", "--lr", "0.002",
                            "--batch", "64", "--eval-every", "100", "--round-timeout", "20000"},
                           {"--partition", "class1"}, 900);
  MESSAGE("s3gd class1 accuracy after 300 rounds: " << acc);
  CHECK(acc >= 0.65);
  // K = 10,177 of 101,770: the paper charges K + K log2(N/K) = 44,005 bits = 5,501 bytes;
  // the Rice-coded packet must stay within 2 bits per entry of that.
  const double max_payload = query_number(f.db, "SELECT MAX(payload_bytes) FROM updates WHERE status='counted'");
  CHECK(max_payload <= (codec::paper_sparse_bits(101770, 10177) + 2 * 10177) / 8);
  CHECK(max_payload >= codec::entropy_sparse_bits(101770, 10177) / 8 - 1);
  check_log_and_digests(f, 300);
}

TEST_CASE("e2e: SIGKILL the coordinator mid-run, --resume completes with every round logged once") {
  Federation f;
  const std::vector<std::string> args = {"--rounds", "150", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--eval-every", "50", "--round-timeout", "20000"};
  f.start_coordinator(4, args);
  f.start_edges(4, {"--rejoin-after", "1000"});
  // Let it log some rounds, then kill it without warning.
  for (int i = 0; i < 3000 && query_number(f.db, "SELECT COUNT(*) FROM rounds") < 40; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double before = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  REQUIRE(before >= 40);
  f.coordinator->signal(SIGKILL);
  CHECK(f.coordinator->wait(10) == 128 + SIGKILL);
  const double at_kill = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  CHECK(at_kill < 150);
  MESSAGE("coordinator killed after " << at_kill << " logged rounds");

  f.start_coordinator(4, {"--join-timeout", "60000"}, /*resume=*/true);
  f.require_coordinator_success(600);
  INFO(f.coordinator->output());
  CHECK(f.coordinator->output().find("resuming run") != std::string::npos);
  CHECK(query_number(f.db, "SELECT resumes FROM runs") == 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM runs") == 1);
  check_log_and_digests(f, 150);
}

TEST_CASE("e2e: SIGKILL the coordinator 30 rounds past a checkpoint - --resume replays the vote log - final model equals an uninterrupted run's") {
  // signum with momentum: the replay must rebuild the momentum buffer too.
  const std::vector<std::string> args = {"--rounds", "100", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--seed", "11", "--checkpoint-every", "50", "--round-timeout", "20000"};
  Federation whole;  // the same seed, never interrupted
  whole.start_coordinator(4, args);
  whole.start_edges(4, {});
  whole.require_coordinator_success(600);
  const std::string want = query_text(whole.db, "SELECT model_digest FROM rounds WHERE round=99");
  REQUIRE(want.size() == 16);

  Federation f;
  f.start_coordinator(4, args);
  f.start_edges(4, {"--rejoin-after", "1000"});
  // The checkpoint of round 49, then about 30 rounds logged only as results.
  for (int i = 0; i < 6000 && query_number(f.db, "SELECT COUNT(*) FROM rounds") < 80; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(query_number(f.db, "SELECT COUNT(*) FROM rounds") >= 80);
  f.coordinator->signal(SIGKILL);
  CHECK(f.coordinator->wait(10) == 128 + SIGKILL);
  const double at_kill = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  const double last_ckpt = query_number(f.db, "SELECT MAX(round) FROM checkpoints");
  MESSAGE("coordinator killed after " << at_kill << " logged rounds, last checkpoint round " << last_ckpt);
  REQUIRE(at_kill < 100);
  CHECK(last_ckpt == 49);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM results") == at_kill);

  f.start_coordinator(4, {"--join-timeout", "60000"}, /*resume=*/true);
  f.require_coordinator_success(600);
  INFO(f.coordinator->output());
  CHECK(f.coordinator->output().find("replayed rounds 50..") != std::string::npos);
  check_log_and_digests(f, 100);
  CHECK(query_text(f.db, "SELECT model_digest FROM rounds WHERE round=99") == want);
  // Checkpoints: the run's first commit (round 0) and every 50th round, all kept.
  CHECK(query_text(f.db, "SELECT group_concat(round) FROM (SELECT round FROM checkpoints ORDER BY round)") ==
        "0,49,99");
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM results") == 100);
}
