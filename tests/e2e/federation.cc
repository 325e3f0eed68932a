#include "tests/e2e/federation.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "coordinator/round_log.h"
#include "net/curve.h"

namespace signfed::test {

void Federation::make_keys(int n, int allowed) {
  secure = true;
  curve::write_key_pair(dir.path + "/coordinator", curve::generate(), true);
  std::string allow = "# e2e allowlist\n";
  for (int i = 0; i < n; ++i) {
    const auto k = curve::generate();
    curve::write_key_pair(dir.path + "/edge-" + std::to_string(i), k, true);
    if (i < allowed) allow += k.public_key + "  edge-" + std::to_string(i) + "\n";  // bound to its default --name
  }
  std::ofstream(dir.path + "/clients.allow") << allow;
}

void Federation::start_coordinator(int clients, const std::vector<std::string>& coord_args, bool resume) {
  if (endpoint.empty()) endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  if (db.empty()) db = dir.path + "/run.sqlite";
  std::vector<std::string> args = {"--endpoint", endpoint, "--db", db, "--clients", std::to_string(clients)};
  if (secure) {
    args.insert(args.end(), {"--key", dir.path + "/coordinator.key", "--allow", dir.path + "/clients.allow"});
  } else {
    args.push_back("--insecure");
  }
  args.insert(args.end(), coord_args.begin(), coord_args.end());
  if (resume) args.push_back("--resume");
  coordinator = std::make_unique<Process>(SIGNFED_COORDINATOR_BIN, args, dir.path + "/coordinator.log");
}

void Federation::start_edge(int i, int n, const std::vector<std::string>& edge_args) {
  std::vector<std::string> args = {"--connect", endpoint, "--client-index", std::to_string(i), "--num-clients",
                                   std::to_string(n)};
  if (secure) {
    args.insert(args.end(), {"--key", dir.path + "/edge-" + std::to_string(i) + ".key", "--server-key",
                             dir.path + "/coordinator.pub"});
  } else {
    args.push_back("--insecure");
  }
  args.insert(args.end(), edge_args.begin(), edge_args.end());
  auto p = std::make_unique<Process>(edge_bin, args, dir.path + "/edge-" + std::to_string(i) + ".log");
  if (static_cast<std::size_t>(i) < edges.size()) {
    edges[static_cast<std::size_t>(i)] = std::move(p);
  } else {
    edges.push_back(std::move(p));
  }
}

void Federation::start_edges(int n, const std::vector<std::string>& edge_args) {
  for (int i = 0; i < n; ++i) start_edge(i, n, edge_args);
}

void Federation::require_coordinator_success(double timeout_s) {
  const int rc = coordinator->wait(timeout_s);
  INFO(coordinator->output());
  REQUIRE(rc == 0);
}

void Federation::check_edges_final_model(std::size_t n) {
  const std::string final_digest = query_text(db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  REQUIRE(final_digest.size() == 16);
  for (std::size_t i = 0; i < std::min(n, edges.size()); ++i) {
    CAPTURE(i);
    CHECK(edges[i]->wait(60) == 0);
    CHECK(coord::digest_hex(edge_final_digest(edges[i]->output())) == final_digest);
  }
}

}  // namespace signfed::test
