// Coordinator run configuration: what the CLI sets, what the round log stores
// (runs.config as JSON) and what --resume reads back.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/methods/method.h"
#include "core/methods/strategy.h"
#include "coordinator/straggler.h"
#include "core/model/model.h"
#include "schema/signfed_generated.h"

namespace signfed::coord {

using methods::Weighting;

struct CoordinatorConfig {
  // Deployment (not stored as training config; taken from the CLI on resume).
  std::string endpoint = "tcp://*:5555";
  std::string db_path = "run.sqlite";
  bool resume = false;
  // The flags given on the command line ("--lr", ...): --resume refuses one
  // whose value contradicts the stored run (resume_conflicts) instead of
  // silently keeping the stored value.
  std::vector<std::string> flags_given;
  bool quiet = false;
  std::uint32_t progress_every = 0;   // 0: every eval and every ~5% of the run

  // Transport security (docs/security.md). The in-process default is
  // plaintext so that programmatic users (simulator, tests) keep working;
  // signfed-coordinator's CLI sets insecure=false unless --insecure is given.
  // When insecure is false, curve_key_file (this coordinator's secret key,
  // signfed-keygen's NAME.key) and allowlist_file (client public keys, one
  // Z85 key a line) are required; a ZAP handler on inproc://zeromq.zap.01 of
  // the coordinator's context admits only listed keys (so at most one secure
  // coordinator per zmq::context_t).
  bool insecure = true;
  std::string curve_key_file;
  std::string allowlist_file;

  // Abuse limits (hostile input).
  std::uint32_t max_clients = 100000;   // distinct client names per run; more get server_full
  std::uint32_t db_max_pages = 0;       // testing: PRAGMA max_page_count (emulates a full disk); 0: off

  // Byzantine suspicion (vote methods): a client whose mean disagreement with
  // the vote exceeds median + suspect_mads * max(1.4826 * MAD, 0.01) over the
  // clients with at least suspect_min_rounds counted updates is flagged
  // (events row 'suspect_client' + a line on stderr). 0 mads: off.
  double suspect_mads = 4.0;
  std::uint32_t suspect_min_rounds = 20;

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
  model::Init init = model::Init::he;  // how the seed draws the initial parameters
  std::uint64_t seed = 1;
  methods::MethodConfig method;
  bool gamma_auto = false;            // S3GD-MV Corollary 1 from the expected voters per round (open_run sets gamma)
  std::uint32_t batch_size = 32;
  std::uint32_t local_steps = 1;
  float step_size = 0.001f;           // delta; fedavg: the clients' local SGD rate
  float server_lr = 1.0f;             // fedavg: server step on the mean model delta
  Weighting weighting = Weighting::samples;  // mean-aggregated methods
  // Mean-aggregated methods: --aggregate mean|median|trimmed:F and --clip C
  // (each decoded update L2-clipped to C before combining; 0: off).
  methods::AggregateOptions aggregate;

  // Inputs enter every model as (x - input_mean) / input_std (data/standardise.h).
  // NaN statistics: computed from the training images in data_dir when the run
  // opens; the values used are stored with the run and sent in Welcome.
  bool standardise = true;
  float input_mean = std::numeric_limits<float>::quiet_NaN();
  float input_std = std::numeric_limits<float>::quiet_NaN();
  // Where the statistics come from (--input-stats): `dataset`, the scalar pixel
  // statistics above; `federated`, one mean/std per feature from the moments
  // the clients send in Join (no sample leaves a board), fixed when the run
  // starts (after --clients joined) and stored below. Empty vectors in a
  // federated run: not fixed yet. Non-empty: they override input_mean/std.
  enum class InputStats { dataset, federated };
  InputStats input_stats = InputStats::dataset;
  std::vector<float> input_mean_per_feature;
  std::vector<float> input_std_per_feature;
  wire::StepSchedule schedule = wire::StepSchedule::constant;
  std::uint32_t halve_every = 100;
  bool guarded_step = false;          // Safaryan Alg. 1 Option 2, federated

  // Evaluation and storage.
  std::uint32_t eval_every = 10;
  std::string data_dir;               // test set dir (IDX); empty: Debian's Fashion-MNIST
  std::uint32_t test_limit = 0;       // evaluate on the first N test samples (0: all)
  // false (--no-test): no central test set; eval rounds log only the clients'
  // hold-out reports (rounds.fed_*; test_accuracy stays NULL).
  bool central_test = true;
  // --test FILE: the central test set from a data file in a board format
  // (CSV, .npz, .npy + test_labels, IDX + test_labels; core/data/local_data.h)
  // instead of the IDX test split in data_dir.
  std::string test_file, test_labels;
  // A full model checkpoint every N rounds (and at the first commit and the
  // last round); the vote log holds every round between them.
  std::uint32_t checkpoint_every = 100;

  // delta^t for round t under the schedule.
  float step_at(std::uint32_t round) const;
  // What the method's strategy reads of this configuration.
  methods::StrategyConfig strategy_config() const;
  // Voters a round is expected to count: the selected share of --clients,
  // capped by --min-clients (S3GD-MV Corollary 1's M for --gamma auto).
  std::uint32_t expected_voters() const;
};

// Fixes what a new run decides once, so that runs.config stores what the run
// uses: gamma after 'auto' (S3GD-MV Corollary 1 with M = expected_voters()),
// and the input statistics (computed from the training images in data_dir
// unless given; mean 0, std 1 when not standardising). Throws
// data::DataError / std::runtime_error with a message saying what to do.
void resolve_run_config(CoordinatorConfig& c, std::size_t num_params);

// The method-specific flags of both CLIs (coordinator and signfed-sim): a flag
// the chosen method does not use is an error, never silently ignored.
// `given(flag)` says whether the user set it (e.g. "--eta"). Returns "" or a
// message naming the flag, the method, and the methods that use it.
std::string check_method_flags(wire::Method m, const std::function<bool(std::string_view)>& given);
// The same for flags that only act together with another setting
// (--halve-every needs --schedule halving, --test-limit needs evaluation,
// --input-stats needs standardisation).
std::string check_flag_combinations(const CoordinatorConfig& c, const std::function<bool(std::string_view)>& given);

// The tie rule and step schedule by the names the schema gives them
// (signfed.fbs: zero | random; constant | inv_sqrt | halving), as the CLIs and
// runs.config spell them.
std::vector<std::string> tie_rule_names();
std::vector<std::string> schedule_names();
bool parse_tie_rule(std::string_view name, wire::TieRule* out);
bool parse_schedule(std::string_view name, wire::StepSchedule* out);
// --input-stats dataset | federated, as the CLIs and runs.config spell them.
const char* input_stats_name(CoordinatorConfig::InputStats s);
bool parse_input_stats(std::string_view name, CoordinatorConfig::InputStats* out);

nlohmann::json to_json(const CoordinatorConfig& c);
// Reads the training part of a stored config into c (deployment fields untouched).
void apply_stored_config(const nlohmann::json& j, CoordinatorConfig& c);

// On --resume: the flags in `given` that set a stored field (runs.config) to a
// value other than the stored one, as one error message naming each
// ("--lr 0.01 (the run has 0.001)") and what to do; empty when none does.
// `cli` is to_json of the command line's configuration. --config counts as
// every field its file sets: all of them are compared.
std::string resume_conflicts(const nlohmann::json& cli, const nlohmann::json& stored,
                             const std::vector<std::string>& given);

}  // namespace signfed::coord
