// SIGINT/SIGTERM with real processes: the coordinator ends every wait
// cleanly (exit 130 / 143, a line on stderr saying how to continue, the run
// 'interrupted' in the log) and --resume continues it; the edge client ends
// cleanly on SIGTERM, as systemd stops it.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <thread>

#include "tests/e2e/federation.h"

using namespace signfed::test;

namespace {

// Polls cond every 20 ms until it holds or timeout_s passes; returns whether it held.
bool poll_until(const std::function<bool()>& cond, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

double q(const Federation& f, const std::string& sql) { return query_number(f.db, sql); }

}  // namespace

TEST_CASE("signals: SIGTERM and SIGINT while the coordinator waits for clients, SIGTERM to a joined edge") {
  for (const int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    Federation f;
    f.start_coordinator(2, {"--rounds", "5", "--eval-every", "0"});
    // The run is open (its row exists) once the coordinator waits for joins.
    REQUIRE(poll_until([&] { return q(f, "SELECT COUNT(*) FROM runs WHERE status='running'") == 1; }, 60));
    if (sig == SIGTERM) {  // one edge joins (1 of 2): stop it as systemd does
      f.start_edges(1, {});
      REQUIRE(poll_until([&] { return q(f, "SELECT COUNT(*) FROM clients") == 1; }, 60));
      f.edges[0]->signal(SIGTERM);
      const int edge_rc = f.edges[0]->wait(30);
      INFO(f.edges[0]->output());
      CHECK(edge_rc == 143);
      CHECK(f.edges[0]->output().find("signfed-edge: stopped by SIGTERM") != std::string::npos);
      CHECK(f.edges[0]->output().find("Interrupted system call") == std::string::npos);
    }
    f.coordinator->signal(sig);
    const int rc = f.coordinator->wait(30);
    INFO(f.coordinator->output());
    CHECK(rc == 128 + sig);  // 143 SIGTERM, 130 SIGINT
    const std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    CHECK(f.coordinator->output().find("signfed-coordinator: stopped by " + name + ": run 1 is 'interrupted' with 0 "
                                       "rounds logged") != std::string::npos);
    CHECK(f.coordinator->output().find("--resume") != std::string::npos);
    CHECK(f.coordinator->output().find("Interrupted system call") == std::string::npos);
    CHECK(query_text(f.db, "SELECT status FROM runs") == "interrupted");
    CHECK(q(f, "SELECT ended_at IS NOT NULL FROM runs") == 1);
  }
}

TEST_CASE("signals: SIGTERM to the coordinator mid-run - interrupted, every logged round whole - --resume completes it") {
  Federation f;
  const std::vector<std::string> args = {"--rounds", "40", "--lr", "0.001", "--batch", "64", "--eval-every", "40",
                                         "--round-timeout", "20000"};
  f.start_coordinator(2, args);
  f.start_edges(2, {"--rejoin-after", "1000"});
  REQUIRE(poll_until([&] { return q(f, "SELECT COUNT(*) FROM rounds") >= 5; }, 120));
  f.coordinator->signal(SIGTERM);
  const int rc = f.coordinator->wait(30);
  {
    INFO(f.coordinator->output());
    CHECK(rc == 143);
    CHECK(f.coordinator->output().find("stopped by SIGTERM") != std::string::npos);
  }
  const double logged = q(f, "SELECT COUNT(*) FROM rounds");
  MESSAGE("coordinator stopped by SIGTERM with " << logged << " rounds logged");
  CHECK(logged < 40);
  CHECK(q(f, "SELECT MAX(round) FROM rounds") == logged - 1);  // 0..logged-1, none partial or missing
  CHECK(query_text(f.db, "SELECT status FROM runs") == "interrupted");
  for (const auto& e : f.edges) CHECK(e->running());  // they wait for the coordinator to come back

  // A flag that contradicts the stored run is refused, not silently dropped.
  f.start_coordinator(2, {"--lr", "0.01", "--batch", "64"}, /*resume=*/true);
  CHECK(f.coordinator->wait(30) == 1);
  CHECK(f.coordinator->output().find("--lr 0.009999999776482582 (the run has 0.0010000000474974513)") !=
        std::string::npos);
  CHECK(query_text(f.db, "SELECT status FROM runs") == "interrupted");

  f.start_coordinator(2, {"--join-timeout", "60000", "--lr", "0.001"}, /*resume=*/true);  // repeating it is fine
  f.require_coordinator_success(300);
  INFO(f.coordinator->output());
  CHECK(f.coordinator->output().find("resuming run") != std::string::npos);
  CHECK(query_text(f.db, "SELECT status FROM runs") == "completed");
  CHECK(q(f, "SELECT resumes FROM runs") == 1);
  CHECK(q(f, "SELECT COUNT(*) FROM rounds") == 40);
  CHECK(q(f, "SELECT COUNT(DISTINCT round) FROM rounds") == 40);
  f.check_edges_final_model();
}
