// The tree under load (issue 14 item 3, the CI-sized version; the full-size
// figures come from tools/bench/fleet_scale.py): 2000 lightweight clients
// (4 signfed-load processes, random valid sign packets) behind two tiers of
// relays (2 upper, 4 lower) on tcp loopback with CURVE at every hop, 20
// rounds: every update a client sent is counted, every round. Three relays
// keep their leaves' rows in their own log (--db) and send totals up, the
// others send the rows: each leaf's rows are in exactly one log.
#include <doctest/doctest.h>

#include <fmt/core.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "net/curve.h"
#include "tests/e2e/process.h"

using namespace signfed;
using namespace signfed::test;

namespace {

std::size_t lines_of(const std::string& path) {
  std::ifstream f(path);
  std::size_t n = 0;
  for (std::string line; std::getline(f, line);) n += !line.empty() && line[0] != '#';
  return n;
}

}  // namespace

TEST_CASE("relay: 2000 clients behind two tiers of relays with CURVE, 20 rounds, no counted update lost, rows in the relays' logs or the coordinator's") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  const int clients = 2000, rounds = 20, upper = 2, lower = 4, per_low = clients / lower;
  auto key_pair = [&](const std::string& name) {
    curve::write_key_pair(dir.path + "/" + name, curve::generate(), true);
    return curve::read_key_file(dir.path + "/" + name + ".pub");
  };
  std::string coord_allow;
  std::vector<std::string> upper_allow(upper);
  for (int i = 0; i < upper; ++i) coord_allow += key_pair("relay-" + std::to_string(i)) + " relay-" + std::to_string(i) + "\n";
  for (int j = 0; j < lower; ++j) {
    const std::string name = fmt::format("relay-{}.{}", j % upper, j);
    upper_allow[j % upper] += key_pair(name) + " " + name + "\n";
  }
  key_pair("coordinator");
  std::ofstream(dir.path + "/coordinator.allow") << coord_allow;
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  Process c(SIGNFED_COORDINATOR_BIN,
            {"--endpoint", endpoint, "--db", db, "--key", dir.path + "/coordinator.key", "--allow",
             dir.path + "/coordinator.allow", "--clients", std::to_string(clients), "--rounds", std::to_string(rounds),
             "--method", "signsgd", "--eval-every", "0", "--round-timeout", "60000", "--join-timeout", "120000",
             "--quiet"},
            dir.path + "/coordinator.log");
  std::vector<std::unique_ptr<Process>> procs;
  std::vector<std::string> upper_ep;
  for (int i = 0; i < upper; ++i) {
    const std::string name = "relay-" + std::to_string(i);
    std::ofstream(dir.path + "/" + name + ".allow") << upper_allow[i];
    upper_ep.push_back("tcp://127.0.0.1:" + std::to_string(free_tcp_port()));
    std::vector<std::string> args{"--parent", endpoint, "--bind", upper_ep.back(), "--name", name, "--clients",
                                  std::to_string(clients / upper), "--key", dir.path + "/" + name + ".key",
                                  "--parent-key", dir.path + "/coordinator.pub", "--allow",
                                  dir.path + "/" + name + ".allow", "--quiet"};
    if (i == 1) args.insert(args.end(), {"--db", dir.path + "/" + name + ".sqlite"});
    procs.push_back(std::make_unique<Process>(SIGNFED_RELAY_BIN, args, dir.path + "/" + name + ".log"));
  }
  std::vector<std::unique_ptr<Process>> loads;
  for (int j = 0; j < lower; ++j) {
    const std::string name = fmt::format("relay-{}.{}", j % upper, j);
    const std::string ep = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
    const std::string allow = dir.path + "/" + name + ".allow";
    // The load tool writes its clients' keys first; the relay starts with them listed.
    loads.push_back(std::make_unique<Process>(
        SIGNFED_LOAD_BIN,
        std::vector<std::string>{"--connect", ep, "--clients", std::to_string(per_low), "--name-prefix",
                                 fmt::format("l{}-", j), "--allowlist", allow, "--server-key",
                                 dir.path + "/" + name + ".pub", "--report", dir.path + "/load-" + std::to_string(j) + ".csv"},
        dir.path + "/load-" + std::to_string(j) + ".log"));
    REQUIRE(wait_until(60, [&] { return lines_of(allow) == static_cast<std::size_t>(per_low); }));
    std::vector<std::string> args{"--parent", upper_ep[j % upper], "--bind", ep, "--name", name, "--clients",
                                  std::to_string(per_low), "--key", dir.path + "/" + name + ".key", "--parent-key",
                                  dir.path + "/relay-" + std::to_string(j % upper) + ".pub", "--allow", allow, "--quiet"};
    if (j < upper) args.insert(args.end(), {"--db", dir.path + "/" + name + ".sqlite"});
    procs.push_back(std::make_unique<Process>(SIGNFED_RELAY_BIN, args, dir.path + "/" + name + ".log"));
  }
  const int rc = c.wait(600);
  INFO(c.output());
  REQUIRE(rc == 0);
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT MIN(received) FROM rounds") == clients);
  // Where each load tool's leaves are logged: relay-0.0 and relay-1.1 log their own
  // (--db); relay-0.2's rows go up through relay-0 to the coordinator; relay-1.3's
  // stop at relay-1, which logs them (--db).
  const std::vector<std::string> log_of{dir.path + "/relay-0.0.sqlite", dir.path + "/relay-1.1.sqlite", db,
                                        dir.path + "/relay-1.sqlite"};
  CHECK(query_number(db, "SELECT COUNT(*) FROM clients WHERE platform != 'relay'") == per_low);
  CHECK(query_number(db, "SELECT COUNT(*) FROM updates WHERE status='counted'") == (per_low + upper) * rounds);
  // Every update each load tool sent is counted (its per-round report against the leaf rows).
  for (int j = 0; j < lower; ++j) {
    CAPTURE(j);
    CHECK(query_number(log_of[j], "SELECT COUNT(*) FROM clients WHERE name LIKE 'l" + std::to_string(j) + "-%'") == per_low);
    CHECK(loads[j]->wait(120) == 0);
    std::ifstream csv(dir.path + "/load-" + std::to_string(j) + ".csv");
    std::string line;
    std::getline(csv, line);
    int checked = 0;
    while (std::getline(csv, line)) {
      int round = 0, sent = 0, early = 0;
      char comma;
      std::istringstream(line) >> round >> comma >> sent >> comma >> early;
      CHECK(sent == per_low);
      CHECK(query_number(log_of[j], "SELECT COUNT(*) FROM updates u JOIN clients k USING(run_id, client_id) WHERE "
                             "u.status='counted' AND k.name LIKE 'l" + std::to_string(j) + "-%' AND u.round=" +
                                 std::to_string(round)) == sent);
      ++checked;
    }
    CHECK(checked == rounds);
  }
  for (auto& p : procs) {
    INFO(p->output());
    CHECK(p->wait(60) == 0);
  }
  // A relay's own log: its runs row completed at the parent's Bye, a round row per round counting its leaves.
  for (const std::string& relay_db : {log_of[0], log_of[3]}) {
    CAPTURE(relay_db);
    CHECK(query_number(relay_db, "SELECT COUNT(*) FROM runs WHERE status='completed'") == 1);
    CHECK(query_number(relay_db, "SELECT COUNT(*) FROM rounds") == rounds);
  }
  CHECK(query_number(log_of[0], "SELECT MIN(received) FROM rounds") == per_low);
  CHECK(query_number(log_of[3], "SELECT MIN(received) FROM rounds") == 2 * per_low);  // relay-1.1's and relay-1.3's
}
