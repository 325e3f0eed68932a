// --export-plan: writes a run plan (tools/reference/PLAN.md) while the
// simulation runs, so that an independent implementation can replay the same
// run: initial parameters, shards, every minibatch, the hyper-parameters the
// run used (as stored in runs.config), and for the traced rounds what signfed
// computed (each client's vector and packet, the downlink, the model after).
//
// The hooks are called from the simulator's threads (clients on worker
// threads, results on the coordinator's): each writes its own files; the
// packet list is guarded by a mutex. A plan requires full participation: the
// constructor refuses --fraction < 1, dropouts and crashes, and finish()
// refuses a run where some round did not count every client.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/codec/packet.h"
#include "coordinator/coordinator.h"
#include "coordinator/round_observer.h"
#include "core/data/dataset.h"
#include "tools/sim/sim.h"

namespace signfed::sim {

// Also a RoundObserver: the coordinator hands it each traced round's result
// and model.
class PlanExporter final : public coord::RoundObserver {
 public:
  // Creates dir (and dir/trace) and writes init.npy, shards.npy,
  // shard_offsets.npy and batches.npy. Throws std::invalid_argument for a
  // configuration a plan cannot describe, std::runtime_error for I/O.
  PlanExporter(const SimConfig& cfg, const std::vector<std::vector<std::uint32_t>>& shards);

  bool traced(std::uint32_t round) const;
  void client_update(std::uint32_t client, std::uint32_t round, std::span<const float> compressed,
                     const codec::SignPacket& sent);
  void round_result(std::uint32_t round, const codec::SignPacket& result) override;
  void round_end(const coord::RoundRow& row, std::span<const float> params, bool last_round) override;

  // After the run: plan.json (from the stored runs.config), signfed.json (the
  // evaluations in the log) and trace/packets.json (sizes of every traced packet).
  void finish(const coord::RunSummary& summary);

  // --plan-only: plan.json from the configuration a run would use
  // (coord::resolve_run_config), without running it: no trace, no signfed.json.
  void write_plan_only();

 private:
  struct PacketRow {
    std::uint32_t round, client;
    std::string encoding;
    std::size_t payload_bytes, nnz, dim;
  };
  SimConfig cfg_;
  std::string dir_;
  std::vector<std::size_t> samples_;
  void write_plan(const nlohmann::json& conf, bool traced_run);  // plan.json from a run's stored config

  std::mutex mu_;
  std::vector<PacketRow> packets_;
};

// "0-4,999" -> {0,1,2,3,4,999}; throws std::invalid_argument.
std::vector<std::uint32_t> parse_round_list(const std::string& text);

}  // namespace signfed::sim
