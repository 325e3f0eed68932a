// signfed-sim --mpi: one simulated federation spread over the ranks of
// MPI_COMM_WORLD (OpenMPI; the optional build feature SIGNFED_WITH_MPI).
//
// Rank r trains clients r, r + size, r + 2 size, ... with the code path an
// in-process EdgeClient answers a RoundTask with (edge/shared_replica.h: one
// replica and one Workbench per rank; each client's own shard, minibatch
// sequence, dropout position and error memory; the same seeds and encoder).
// Per round:
//   rank 0   the task's step (Strategy::plan) and the participants
//            (ClientRegistry::select, as the coordinator draws them); MPI_Bcast
//   each     trains its selected clients, folds their packets into one tally
//            (Strategy::fold); MPI_Reduce of the integer tallies to rank 0
//            (tools/sim/mpi_tally.h: counts, and exact fixed-point sums)
//   rank 0   Strategy::aggregate(round, tally, ...) on the coordinator's
//            replica; MPI_Bcast of the result packet, momentum and digest
//   each     applies it to its replica (as EdgeClient::on_vote); vote methods:
//            each client's agreement with the vote, computed on its rank
//   rank 0   gathers the per-client rows (MPI_Gatherv) and commits the round
//            to the SQLite log (coordinator/round_log.h: the same tables and
//            rows as the coordinator writes), evaluates, checkpoints.
// Files: this one (session, refusals, the round loop and its collectives),
// mpi_clients.h (a rank's clients), mpi_coordinator.h (rank 0's coordinator
// and log), mpi_tally.h (the exact reduce), mpi_round.h (records exchanged).
// The model digests are bit-identical to signfed-sim without --mpi for the
// same flags (tally.h: the tally aggregate equals the flat one bit for bit).
//
// What it cannot honour is refused by mpi_refusal (no option is ignored):
// there is no wall clock across ranks, so every selected client's update
// counts (--policy all or deadline; no --min-clients, virtual time,
// stragglers, faults or dropout), and the guarded step, federated input
// statistics, hold-outs, SPB probes, plans, --processes, --resume and sweeps
// are not implemented here.
//
// Errors: a rank that throws takes the job down (the caller calls
// MPI_Abort): a collective cannot be left half-way.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sim/sim.h"

namespace signfed::sim {

// Whether this build has --mpi (SIGNFED_WITH_MPI).
bool mpi_built();

// MPI_Init / MPI_Finalize around a scope (single-threaded MPI). Throws
// std::runtime_error when the build lacks MPI.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ends every rank of the job with exit code `code` (after an exception on one rank).
  [[noreturn]] static void abort(int code);

 private:
  int rank_ = 0, size_ = 1;
};

// This process's rank in and the size of MPI_COMM_WORLD (0 and 1 when MPI is
// not initialised or not built).
int mpi_rank();
int mpi_size();

// Why cfg cannot run under --mpi ("" when it can); `given(flag)` says whether
// the user set the flag (e.g. "--workers").
std::string mpi_refusal(const SimConfig& cfg, const std::function<bool(std::string_view)>& given);

// Runs cfg over every rank (collective: all ranks call it with the same cfg
// and shards). Rank 0 returns the run's result (its log written); the other
// ranks return a result with summary.status "worker". Throws on any error.
SimResult run_mpi(const SimConfig& cfg, std::shared_ptr<const data::Dataset> train,
                  const std::vector<std::vector<std::uint32_t>>& shards, const std::vector<ClientProfile>& profiles);

}  // namespace signfed::sim
