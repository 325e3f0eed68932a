// Load: 1000 clients (one signfed-load process, 1000 DEALER connections) on
// one coordinator over tcp loopback, 50 rounds. Every update sent before the
// deadline is counted; the coordinator's peak RSS is reported and bounded.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/e2e/process.h"

using namespace signfed::test;

TEST_CASE("load: 1000 clients, 50 rounds, no update lost, coordinator memory bounded") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  const int clients = 1000, rounds = 50;
  Process c(SIGNFED_COORDINATOR_BIN,
            {"--endpoint", endpoint, "--db", db, "--insecure", "--clients", std::to_string(clients), "--rounds",
             std::to_string(rounds), "--method", "signsgd", "--eval-every", "0", "--round-timeout", "60000",
             "--join-timeout", "120000", "--progress-every", "10", "--quiet"},
            dir.path + "/coordinator.log");
  Process load(SIGNFED_LOAD_BIN,
               {"--connect", endpoint, "--clients", std::to_string(clients), "--insecure", "--report",
                dir.path + "/load.csv"},
               dir.path + "/load.log");
  const int rc = c.wait(1200);
  INFO(c.output());
  INFO(load.output());
  REQUIRE(rc == 0);
  CHECK(load.wait(120) == 0);
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT COUNT(*) FROM clients") == clients);
  CHECK(query_number(db, "SELECT MIN(selected) FROM rounds") == clients);
  // Every update the load tool sent in time is counted (per round, from its report).
  std::ifstream csv(dir.path + "/load.csv");
  std::string line;
  std::getline(csv, line);
  int checked = 0;
  while (std::getline(csv, line)) {
    int round = 0, sent = 0, early = 0;
    char comma;
    std::istringstream(line) >> round >> comma >> sent >> comma >> early;
    const double counted =
        query_number(db, "SELECT COUNT(*) FROM updates WHERE status='counted' AND round=" + std::to_string(round));
    CHECK(counted >= early);
    CHECK(counted == sent);
    ++checked;
  }
  CHECK(checked == rounds);
  CHECK(query_number(db, "SELECT COUNT(*) FROM updates WHERE status != 'counted'") == 0);
  const std::string out = c.output();
  const std::size_t at = out.rfind("peak RSS ");
  REQUIRE(at != std::string::npos);
  const double rss_mb = std::stod(out.substr(at + 9)) / 1024.0;
  MESSAGE("coordinator peak RSS with " << clients << " clients: " << rss_mb << " MB");
  CHECK(rss_mb < 1024.0);
}
