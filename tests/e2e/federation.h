// Runs a coordinator and N edge processes on tcp loopback for e2e tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/process.h"

namespace signfed::test {

struct Federation {
  TempDir dir;
  std::string endpoint;   // tcp://127.0.0.1:PORT
  std::string db;
  std::unique_ptr<Process> coordinator;
  std::vector<std::unique_ptr<Process>> edges;
  // false: everyone runs with --insecure (plaintext). true: CURVE; call
  // make_keys() first (keys in dir: coordinator.key/.pub, edge-i.key/.pub,
  // clients.allow listing the allowed edges).
  bool secure = false;
  // The binary start_edge runs: signfed-edge, or (tests of slow or lying
  // clients) signfed-edge-faulty, which adds --delay-ms and --byzantine.
  std::string edge_bin = SIGNFED_EDGE_BIN;

  // Makes the coordinator's key pair and n edge key pairs; the first `allowed`
  // edges' public keys go into the allowlist.
  void make_keys(int n, int allowed);
  // Starts the coordinator with coord_args (endpoint, db, --clients and the
  // transport flags added).
  void start_coordinator(int clients, const std::vector<std::string>& coord_args, bool resume = false);
  // Starts edge i of n with edge_args (connect, index, count and transport flags added).
  void start_edges(int n, const std::vector<std::string>& edge_args);
  // (Re)starts edge i of n alone; replaces edges[i] if it exists (the old process is killed).
  void start_edge(int i, int n, const std::vector<std::string>& edge_args);

  // Waits up to timeout_s for the coordinator to exit and requires exit code 0
  // (a failure shows the coordinator's output).
  void require_coordinator_success(double timeout_s);
  // The first n edges (all by default) exit 0 within 60 s, each reporting the
  // model digest the log holds for the last round.
  void check_edges_final_model(std::size_t n = SIZE_MAX);
};

}  // namespace signfed::test
