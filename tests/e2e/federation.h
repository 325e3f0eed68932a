// Runs a coordinator and N edge processes on tcp loopback for e2e tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace signfed::test {

struct Federation {
  TempDir dir;
  std::string endpoint;   // tcp://127.0.0.1:PORT
  std::string db;
  std::unique_ptr<Process> coordinator;
  std::vector<std::unique_ptr<Process>> edges;

  // Starts the coordinator with coord_args (endpoint, db and --clients added).
  void start_coordinator(int clients, const std::vector<std::string>& coord_args, bool resume = false);
  // Starts edge i of n with edge_args (connect, index, count added).
  void start_edges(int n, const std::vector<std::string>& edge_args);
};

}  // namespace signfed::test
