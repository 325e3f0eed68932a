// signfed-sim's engine: runs the real Coordinator and M real EdgeClients.
//
// In-process (default): one zmq::context_t, the coordinator bound to an
// inproc:// endpoint on its own thread, and `workers` threads that each create
// and own a subset of the clients (client c lives on worker c % workers; a
// client and its socket are only touched by that thread). A worker polls all
// its clients' sockets with one zmq::poll and calls on_readable()/on_tick(), so
// an idle client costs no thread. All clients share one read-only Dataset and
// (SimConfig::share) one read-only model replica, and each worker lends one
// bench of training buffers to its clients in turn (edge/shared_replica.h):
// an idle client holds only its shard, sequences, error memory and socket.
//
// --mpi: the clients spread over MPI ranks; rank 0 aggregates their reduced
// tallies and keeps the log (tools/sim/mpi_sim.h).
//
// --processes: spawns the signfed-coordinator and M signfed-edge-faulty
// binaries (signfed-edge plus --delay-ms, tools/sim/faulty_edge.cc) on
// tcp loopback instead (no virtual time, no SPB probe: the binaries have no
// simulation hooks).
//
// Not thread-safe: one run_sim at a time per SQLite file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/config.h"
#include "core/data/local_data.h"
#include "coordinator/coordinator.h"
#include "core/data/dataset.h"
#include "tools/sim/fleet.h"
#include "tools/sim/spb.h"

namespace signfed::sim {

struct SimConfig {
  coord::CoordinatorConfig coord;    // endpoint is chosen by the sim; clients = `clients`
  std::uint32_t clients = 10;
  std::string partition = "iid";
  std::uint64_t data_seed = 1;
  std::string train_dir;             // IDX train files; empty: Debian's Fashion-MNIST
  // --data FILE: the one global training file in a board format (CSV, .npz,
  // .npy/IDX with train_file.labels_path), partitioned like the IDX set.
  data::LocalDataSource train_file;
  double holdout = 0.0;              // each client's hold-out share (edge::EdgeConfig::holdout)
  std::uint32_t workers = 2;
  // In-process: the clients share one read-only replica and one bench of
  // training buffers per worker (edge/shared_replica.h); false: each client
  // holds its own model, gradient and encoder (as a board does).
  bool share = true;
  FleetSpec fleet;
  FaultSpec faults;
  std::uint32_t spb_every = 0;       // 0: no probe
  std::uint32_t spb_draws = 1;       // minibatches per client per probe
  // --relays N or N,M (in-process): the clients join through N relays
  // (signfed-relay's Relay, one thread each), or through M lower relays spread
  // over N upper ones; empty: flat. Same seed, same digests (docs/relay.md).
  std::vector<std::uint32_t> relays;
  bool processes = false;
  std::string coordinator_bin, edge_bin, log_dir;  // --processes
  // --mpi: the clients spread over the MPI ranks, rank 0 the coordinator and
  // the log (tools/sim/mpi_sim.h; MPI is initialised by the caller).
  bool mpi = false;
  bool verbose_clients = false;
  bool print_partition = true;
  // --export-plan DIR: write a run plan for the reference harness (tools/sim/plan.h).
  std::string export_plan_dir;
  std::uint32_t trace_rounds = 3;        // trace rounds 0 .. trace_rounds-1
  std::vector<std::uint32_t> trace_at;   // and these
  bool plan_only = false;                // write the plan without running the federation
};

struct SimResult {
  coord::RunSummary summary;
  std::uint32_t clients_checked = 0;  // clients that ended with the coordinator's Bye
  std::uint32_t digests_equal = 0;    // ... whose model digest equals the coordinator's
  std::uint32_t crashes = 0;          // crash-and-rejoin events performed
  double wall_s = 0.0;
  long peak_rss_kb = 0;               // this process; --processes: the largest child
  std::vector<SpbRow> spb;
};

// Loads the train set named by cfg (shared by every client of the run).
std::shared_ptr<const data::Dataset> load_train(const SimConfig& cfg);

// Fills cc's input mean and std from the run's training images when the run
// standardises with dataset statistics and none were given (what the
// coordinator sends its clients; the in-process and the --mpi simulator alike).
void resolve_dataset_input_stats(const SimConfig& cfg, coord::CoordinatorConfig& cc);

// Runs one simulated federation to completion and logs it (the coordinator's
// tables plus sim_runs, sim_clients and spb; see docs/simulation.md). With
// cfg.mpi every rank calls it; only rank 0 prints, logs and returns the
// result (the other ranks' summary.status is "worker").
// Throws std::runtime_error when the run cannot start or the coordinator fails.
SimResult run_sim(const SimConfig& cfg, std::shared_ptr<const data::Dataset> train);

// Creates the sim's own tables in the SQLite file if missing.
void ensure_sim_tables(const std::string& db_path);

}  // namespace signfed::sim
