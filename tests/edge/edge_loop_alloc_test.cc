// The edge loop allocates nothing per round (issue 13 item 5): a real
// coordinator (signfed-coordinator on tcp loopback) and a real EdgeClient in
// this thread, default MLP on a 6,000-sample Fashion-MNIST shard; malloc
// calls are counted (tests/edge/malloc_counter.h, not operator new) from the
// update of round 5 to the update of round 20: 15 whole rounds of receive
// task, compute, encode, send, receive result, apply.
//
// Pinned: our code makes 0 calls. Others allocate too, reported but not
// pinned: Eigen's GEMM packs the operands of the default MLP's 784x128 layer
// into heap buffers (above its stack limit) on each product (core/model,
// whose kernels issue 13 item 4 replaces); libzmq copies each message we send
// and allocates for what its I/O thread reads (depends on how reads split the
// TCP stream). SIGNFED_ALLOC_SITES=1 prints a
// stack per allocation (always printed when our count is not 0).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <zmq.hpp>

#include "edge/edge_client.h"
#include "tests/e2e/process.h"
#include "tests/edge/malloc_counter.h"

using namespace signfed;

#if SIGNFED_MALLOC_COUNTING  // not built under AddressSanitizer, which owns malloc
TEST_CASE("edge loop: rounds 5 to 20 of a loopback federation make no malloc call in the client's thread") {
  REQUIRE(edge::test::malloc_counting_available());
  signfed::test::TempDir dir;
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(signfed::test::free_tcp_port());
  signfed::test::Process coordinator(SIGNFED_COORDINATOR_BIN,
                                     {"--insecure", "--endpoint", endpoint, "--db", dir.path + "/run.sqlite",
                                      "--clients", "1", "--rounds", "24", "--method", "signsgd", "--lr", "0.001",
                                      "--eval-every", "0", "--quiet"},
                                     dir.path + "/coordinator.log");
  constexpr std::uint32_t kFirst = 5, kLast = 20;
  bool traced_first = false, traced_last = false;
  edge::test::SiteCounts sites;
  edge::EdgeConfig cfg;
  cfg.endpoint = endpoint;
  cfg.client_index = 0;
  cfg.num_clients = 10;  // 6,000 samples
  cfg.quiet = true;
  // Heartbeats are timer traffic, not the round's: keep them out of the window.
  cfg.heartbeat_ms = 60000;
  cfg.trace_update = [&](std::uint32_t round, std::span<const float>, const codec::SignPacket&) {
    if (round == kFirst) {
      traced_first = true;
      edge::test::start_sites();
    } else if (round == kLast && traced_first) {
      sites = edge::test::stop_sites();
      traced_last = true;
    }
  };
  zmq::context_t ctx;
  int code = -1;
  {
    edge::EdgeClient client(cfg, ctx);
    code = client.run();
  }
  INFO("coordinator output:\n" << coordinator.output());
  REQUIRE(coordinator.wait(60) == 0);
  REQUIRE(code == 0);
  REQUIRE(traced_last);  // both rounds were traced
  constexpr double kRounds = kLast - kFirst;
  REQUIRE(sites.lost == 0);
  MESSAGE("rounds " << kFirst << " to " << kLast << ", malloc calls per round: our code " << sites.ours / kRounds
                    << ", Eigen's GEMM (the model's dense layers) " << sites.eigen / kRounds
                    << ", libzmq in the client's thread " << sites.zmq_caller / kRounds << ", libzmq's I/O thread "
                    << sites.zmq_io / kRounds);
  if (sites.ours != 0 || std::getenv("SIGNFED_ALLOC_SITES") != nullptr) edge::test::print_sites(stderr);
  CHECK(sites.ours == 0);
}
#endif
