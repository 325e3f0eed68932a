// signfed-sim --mpi, rank 0: the coordinator's half of a round and its log,
// as coordinator/coordinator.cc keeps them, with every selected client's
// update counted (no clock across ranks): the participants
// (ClientRegistry::select over the names sim-0 .., each client's id its
// index), the task's step, Strategy::aggregate on the reduced tally into the
// coordinator's replica, Byzantine suspicion from the clients' agreement,
// the central evaluation, and one RoundLog transaction per round (round row,
// update rows, the result for the vote log, checkpoints every
// --checkpoint-every rounds and at the first and last) -- the tables
// signfed-report reads. Downlink bytes are those of the RoundTask and
// VoteResult envelopes the coordinator would have sent.
// Not thread-safe; no MPI calls (tools/sim/mpi_sim.cc does the collectives).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "coordinator/client_registry.h"
#include "coordinator/config.h"
#include "coordinator/coordinator.h"
#include "coordinator/progress.h"
#include "coordinator/round_log.h"
#include "coordinator/suspicion.h"
#include "core/data/dataset.h"
#include "core/methods/strategy.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "tools/sim/mpi_round.h"

namespace signfed::sim {

class MpiCoordinator {
 public:
  // Opens the run in cc.db_path (runs row, the clients sim-0 .. as ids 0 ..,
  // the transport event) and the coordinator's replica; loads the test set.
  MpiCoordinator(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy,
                 const std::vector<std::vector<std::uint32_t>>& shards, int ranks);

  // Opens the round: its task (Strategy::plan of the scheduled step) and its
  // participants (chosen[c] = 1; chosen has a byte per client).
  methods::TaskPlan begin_round(std::uint32_t round, std::vector<std::uint8_t>& chosen);

  // Aggregates the reduced tally (of every participant) into the
  // coordinator's replica; `packet` gets the result, the return value what
  // goes with it.
  ResultHeader aggregate(std::uint32_t round, const methods::Tally& tally, float step,
                         std::vector<std::uint8_t>& packet);

  // Commits the round: recs are every participant's record, by client.
  void finish_round(std::uint32_t round, float step, const ResultHeader& h, const std::vector<std::uint8_t>& packet,
                    const std::vector<UpdateRecord>& recs);

  // Ends the run (runs.status 'completed') and returns its summary.
  coord::RunSummary end();

 private:
  bool eval_round(std::uint32_t round) const;

  // The central test set, as Coordinator::open_run loads it.
  void load_test();

  // As Coordinator::evaluate.
  void evaluate_test(coord::RoundRow& row);

  // As Coordinator::record_aggregate: statistics, Byzantine suspicion, a refused step.
  void record_aggregate(std::uint32_t round, const std::vector<std::uint32_t>& ids,
                        const std::vector<double>& agreement, coord::RoundRow& row);

  const coord::CoordinatorConfig& cc_;
  const methods::Strategy& strategy_;
  coord::RoundLog log_;
  coord::ClientRegistry registry_;
  coord::SuspicionMonitor suspicion_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<core::Replica> replica_;  // views model_->params()
  std::unique_ptr<coord::ProgressPrinter> progress_;
  std::shared_ptr<const data::Dataset> test_;
  std::int64_t run_id_ = 0;
  std::uint64_t digest_ = 0;
  bool checkpointed_ = false;
  double started_at_ = 0.0;
  std::vector<std::uint32_t> selected_;
  std::size_t task_bytes_ = 0;
  methods::Aggregate agg_;
  coord::RunSummary summary_;
};

}  // namespace signfed::sim
