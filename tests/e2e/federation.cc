#include "federation.h"

namespace signfed::test {

void Federation::start_coordinator(int clients, const std::vector<std::string>& coord_args, bool resume) {
  if (endpoint.empty()) endpoint = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
  if (db.empty()) db = dir.path + "/run.sqlite";
  std::vector<std::string> args = {"--endpoint", endpoint, "--db", db, "--clients", std::to_string(clients)};
  args.insert(args.end(), coord_args.begin(), coord_args.end());
  if (resume) args.push_back("--resume");
  coordinator = std::make_unique<Process>(SIGNFED_COORDINATOR_BIN, args, dir.path + "/coordinator.log");
}

void Federation::start_edges(int n, const std::vector<std::string>& edge_args) {
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args = {"--connect", endpoint, "--client-index", std::to_string(i), "--num-clients",
                                     std::to_string(n)};
    args.insert(args.end(), edge_args.begin(), edge_args.end());
    edges.push_back(
        std::make_unique<Process>(SIGNFED_EDGE_BIN, args, dir.path + "/edge-" + std::to_string(i) + ".log"));
  }
}

}  // namespace signfed::test
