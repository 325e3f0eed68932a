// signfed-sim --mpi, every rank: its slice of the clients (client c on rank
// c mod size), trained exactly as an in-process EdgeClient answers a
// RoundTask (edge/edge_client.cc compute_and_send, with a shared replica):
// one SharedReplica and one Workbench for the rank, and per client only what
// differs between clients (shard, minibatch sequence, dropout position, error
// memory: LocalTrainer::ClientState), swapped into the bench in turn. The
// same seeds (data_seed, client index, round), encoder and packet bytes, so
// the tally of a rank's packets is what the coordinator would have counted.
//
// Memory: per client its ClientState and, for s3gd / efsign, its error
// memory (4 bytes a parameter); the packets of the round are kept until the
// result arrives for vote methods only (each client's agreement).
// Not thread-safe; no MPI calls (tools/sim/mpi_sim.cc does the collectives).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "coordinator/config.h"
#include "core/codec/packet.h"
#include "core/data/dataset.h"
#include "core/data/standardise.h"
#include "core/methods/strategy.h"
#include "edge/shared_replica.h"
#include "tools/sim/mpi_round.h"

namespace signfed::sim {

class RankClients {
 public:
  // cc is the run's resolved configuration (resolve_run_config); cc, strategy
  // and shards must outlive this.
  RankClients(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy, std::uint64_t data_seed,
              std::shared_ptr<const data::Dataset> train, const std::vector<std::vector<std::uint32_t>>& shards,
              int rank, int size);

  std::size_t size() const { return slots_.size(); }  // clients on this rank
  std::uint64_t digest() const { return shared_.digest_at(version_); }  // their (shared) replica's

  // Trains this rank's clients with chosen[c] != 0 for `round` and returns
  // their packets folded into one tally (Strategy::fold); recs: one record
  // per trained client, in client order. Throws if the replica moved on.
  methods::Tally train(std::uint32_t round, const methods::TaskPlan& plan, const std::vector<std::uint8_t>& chosen,
                       std::vector<UpdateRecord>& recs);

  // Applies the round's result (`packet`, a wire::SignPacket) as
  // EdgeClient::on_vote does and checks the digest against h.new_digest
  // (std::runtime_error otherwise); vote methods: each trained client's
  // agreement with the vote into its record.
  void apply(std::uint32_t round, float step, const ResultHeader& h, const std::vector<std::uint8_t>& packet,
             std::vector<UpdateRecord>& recs);

 private:
  struct Slot {
    std::uint32_t index;
    edge::LocalTrainer::ClientState state;
    std::vector<float> error;  // s3gd / efsign error memory (empty until the first encode)
  };

  const coord::CoordinatorConfig& cc_;
  const methods::Strategy& strategy_;
  std::uint64_t data_seed_;
  edge::SharedReplica shared_;
  edge::Workbench bench_;
  data::Standardisation inputs_;
  const std::vector<std::vector<std::uint32_t>>& shards_;
  std::vector<Slot> slots_;
  std::size_t version_ = 0;
  codec::SignPacket packet_;
  flatbuffers::FlatBufferBuilder out_{1024};
  std::vector<codec::SignPacket> kept_;  // vote methods: this round's packets, for the agreement
};

}  // namespace signfed::sim
