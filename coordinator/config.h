// Coordinator run configuration: what the CLI sets, what the round log stores
// (runs.config as JSON) and what --resume reads back.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "codec/compress.h"
#include "coordinator/straggler.h"
#include "schema/signfed_generated.h"

namespace signfed::coord {

struct CoordinatorConfig {
  // Deployment (not stored as training config; taken from the CLI on resume).
  std::string endpoint = "tcp://*:5555";
  std::string db_path = "run.sqlite";
  bool resume = false;
  bool quiet = false;
  std::uint32_t progress_every = 0;   // 0: every eval and every ~5% of the run

  // Federation.
  std::string tag;                    // free text stored with the run (sweeps tag runs)
  std::uint32_t rounds = 100;
  std::uint32_t clients = 1;          // joins awaited before round 0
  std::uint32_t min_clients = 0;      // close a round as soon as this many updates arrived (0: wait for all)
  double fraction = 1.0;              // share of live clients selected per round (seeded)
  std::uint32_t round_timeout_ms = 10000;
  std::uint32_t join_timeout_ms = 120000;
  std::uint32_t dead_after_ms = 30000;  // a silent client is not selected after this
  StragglerPolicy policy;             // which updates count (straggler.h)
  bool virtual_time = false;          // admit by the clients' simulated latencies (simulation)

  // Model and training.
  std::string model = "mlp";
  std::uint64_t seed = 1;
  codec::MethodConfig method;
  bool gamma_auto = false;            // S3GD-MV Corollary 1: gamma = M^(-2/3)
  std::uint32_t batch_size = 32;
  std::uint32_t local_steps = 1;
  float step_size = 0.001f;
  wire::StepSchedule schedule = wire::StepSchedule::constant;
  std::uint32_t halve_every = 100;
  bool guarded_step = false;          // Safaryan Alg. 1 Option 2, federated

  // Evaluation and storage.
  std::uint32_t eval_every = 10;
  std::string data_dir;               // test set dir (IDX); empty: Debian's Fashion-MNIST
  std::uint32_t test_limit = 0;       // evaluate on the first N test samples (0: all)
  std::uint32_t checkpoint_every = 10;

  // delta^t for round t under the schedule.
  float step_at(std::uint32_t round) const;
};

nlohmann::json to_json(const CoordinatorConfig& c);
// Reads the training part of a stored config into c (deployment fields untouched).
void apply_stored_config(const nlohmann::json& j, CoordinatorConfig& c);

}  // namespace signfed::coord
