#include "coordinator/run_options.h"

#include <cmath>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/methods/encoder.h"

namespace signfed::coord {


TrainingText training_text_of(const CoordinatorConfig& c) {
  TrainingText t;
  t.method = methods::method_name(c.method.method);
  t.gamma = c.gamma_auto ? "auto" : nlohmann::json(c.method.gamma).dump();
  t.tie = wire::EnumNameTieRule(c.method.tie_rule);
  t.schedule = wire::EnumNameStepSchedule(c.schedule);
  t.policy = c.policy.name();
  t.init = model::init_name(c.init);
  t.weighting = c.weighting == Weighting::uniform ? "uniform" : "samples";
  t.aggregate = methods::aggregate_rule_name(c.aggregate);
  t.no_standardise = !c.standardise;
  t.input_stats = input_stats_name(c.input_stats);
  t.no_test = !c.central_test;
  return t;
}

void add_training_options(CLI::App& app, CoordinatorConfig& cfg, TrainingText& t, const std::string& tr,
                          const std::string& st) {
  app.add_option("--method", t.method, "signsgd | s3gd | randk | signum | stochsign | efsign | fedsgd | fedavg")
      ->group(tr);
  app.add_option("--gamma", t.gamma, "sparsity K/N for s3gd/randk, or 'auto' (S3GD-MV Corollary 1: M^(2/3) K = N)")
      ->group(tr);
  app.add_option("--eta", cfg.method.eta, "error-compensation weight (S3GD-MV eq. (5))")->group(tr);
  app.add_option("--momentum", cfg.method.momentum,
                 "momentum mu on the voted signs: signum, s3gd, randk (S3GD-MV eqs. (25)-(26))")
      ->check(CLI::Range(0.0, 0.9999))
      ->group(tr);
  app.add_option("--tie", t.tie, "tie rule for even voter counts: zero (no move) | random (seeded coin)")
      ->check(CLI::IsMember(tie_rule_names()))
      ->group(tr);
  app.add_option("--lr", cfg.step_size, "step size delta (fedavg: the clients' local SGD step)")
      ->check(CLI::PositiveNumber)
      ->group(tr);
  app.add_option("--server-lr", cfg.server_lr, "fedavg: server step on the mean model delta")
      ->check(CLI::PositiveNumber)
      ->group(tr);
  app.add_option("--weighting", t.weighting,
                 "mean-aggregated methods: weight clients by their sample counts (McMahan et al.) or uniformly")
      ->check(CLI::IsMember({"samples", "uniform"}))
      ->group(tr);
  app.add_option("--aggregate", t.aggregate,
                 "mean-aggregated methods: mean (weighted, see --weighting) | median (coordinate-wise) | trimmed:F "
                 "(coordinate-wise mean without the fraction F, 0 < F < 0.5, of values at each end); median and "
                 "trimmed are unweighted: every counted client counts once")
      ->group(tr);
  app.add_option("--clip", cfg.aggregate.clip,
                 "mean-aggregated methods: scale each client's decoded update to L2 norm at most C before "
                 "aggregating (0: off)")
      ->group(tr);
  app.add_flag("--no-standardise", t.no_standardise,
               "feed raw inputs in [0,1]; default: (x - mean) / std with the training images' mean and std, sent to "
               "every client")
      ->group(tr);
  app.add_option("--input-stats", t.input_stats,
                 "where the standardisation comes from: dataset (one mean/std over the training images in --data) | "
                 "federated (one mean/std per feature from the moments -- count, sums, sums of squares of their "
                 "training rows -- that the clients send in Join; fixed when the run starts)")
      ->check(CLI::IsMember({"dataset", "federated"}))
      ->group(tr);
  app.add_option("--schedule", t.schedule, "step schedule: constant | inv_sqrt (delta/sqrt(k+1)) | halving")
      ->check(CLI::IsMember(schedule_names()))
      ->group(tr);
  app.add_option("--halve-every", cfg.halve_every, "rounds between halvings (--schedule halving)")->group(tr);
  app.add_option("--batch", cfg.batch_size, "client minibatch size")->check(CLI::Range(1u, 65535u))->group(tr);
  app.add_option("--local-steps", cfg.local_steps, "minibatches per client per round")
      ->check(CLI::Range(1u, 65535u))
      ->group(tr);
  app.add_option("--model", cfg.model,
                 "model: a preset (mlp, mlp:784-256-10, cnn) or a model file (JSON, docs/model-format.md); the "
                 "clients get the architecture from the coordinator")
      ->group(tr);
  app.add_option("--init", t.init,
                 "initial parameters: he (He/Glorot uniform, zero biases) | torch (PyTorch's nn.Linear/Conv2d "
                 "defaults, U(+-1/sqrt(fan_in)) for weights and biases)")
      ->check(CLI::IsMember({"he", "torch"}))
      ->group(tr);
  app.add_option("--eval-every", cfg.eval_every, "evaluate on the test set every N rounds (0: never)")->group(tr);
  app.add_option("--test-limit", cfg.test_limit, "evaluate on the first N test samples (0: all)")->group(tr);
  app.add_option("--test", cfg.test_file,
                 "central test set as a data FILE (CSV with a label/target/class column, .npz, .npy or IDX with "
                 "--test-labels); default: the IDX test split in --data")
      ->group(tr);
  app.add_option("--test-labels", cfg.test_labels, "labels file for --test FILE.npy or an IDX images file")->group(tr);
  app.add_flag("--no-test", t.no_test,
               "no central test set: eval rounds log only the clients' hold-out reports (signfed-edge --holdout; "
               "rounds.fed_accuracy)")
      ->group(tr);
  app.add_flag("--guarded-step", cfg.guarded_step,
               "keep a step only if the participants' loss does not rise (Safaryan Alg. 1 Option 2)")
      ->group(tr);
  app.add_option("--policy", t.policy,
                 "straggler policy: all | deadline | adaptive:Q (1.2x the Q-quantile of recent latencies) | "
                 "overselect:E (select E extra, keep the first)")
      ->group(st);
  app.add_option("--round-timeout", cfg.round_timeout_ms,
                 "round deadline, ms (under --virtual-time: the simulated deadline, and the wall-clock bound on "
                 "waiting for a client that dropped out)")
      ->check(CLI::Range(1u, 86400000u))
      ->group(st);
  app.add_flag("--virtual-time", cfg.virtual_time,
               "admit updates by the clients' simulated latencies and log simulated time (simulation)")
      ->group(st);
}

std::string apply_training_options(const TrainingText& t, const FlagGiven& method_flag_given, const FlagGiven& given,
                                   CoordinatorConfig& cfg) {
  if (!methods::parse_method(t.method, &cfg.method.method)) return "unknown --method '" + t.method + "'; see --help";
  try {
    cfg.model = model::load_model_argument(cfg.model);  // a model file becomes its canonical JSON
  } catch (const std::invalid_argument& e) {
    return std::string("--model: ") + e.what();
  }
  if (std::string err = check_method_flags(cfg.method.method, method_flag_given); !err.empty()) return err;
  if (t.gamma == "auto") {
    cfg.gamma_auto = true;
  } else {
    cfg.gamma_auto = false;
    try {
      std::size_t used = 0;
      cfg.method.gamma = std::stof(t.gamma, &used);
      if (used != t.gamma.size() || !(cfg.method.gamma > 0.0f && cfg.method.gamma <= 1.0f))
        throw std::invalid_argument("");
    } catch (const std::exception&) {
      return "--gamma must be in (0, 1] or 'auto', got '" + t.gamma + "'";
    }
  }
  try {
    cfg.policy = parse_policy(t.policy);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (!parse_tie_rule(t.tie, &cfg.method.tie_rule))
    return "unknown --tie '" + t.tie + "'";
  if (!parse_schedule(t.schedule, &cfg.schedule))
    return "unknown --schedule '" + t.schedule + "'";
  if (!model::parse_init(t.init, &cfg.init)) return "unknown --init '" + t.init + "'";
  cfg.weighting = t.weighting == "uniform" ? Weighting::uniform : Weighting::samples;
  if (std::string err = methods::parse_aggregate_rule(t.aggregate, &cfg.aggregate); !err.empty()) return err;
  if (!(cfg.aggregate.clip >= 0.0 && std::isfinite(cfg.aggregate.clip)))
    return "--clip must be a finite L2 norm >= 0 (0: no clipping), got " + std::to_string(cfg.aggregate.clip);
  cfg.standardise = !t.no_standardise;
  if (!parse_input_stats(t.input_stats, &cfg.input_stats)) return "unknown --input-stats '" + t.input_stats + "'";
  cfg.central_test = !t.no_test;
  return check_flag_combinations(cfg, given);
}

void load_config_file(const std::string& path, CoordinatorConfig& cfg) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the run configuration " + path);
  try {
    // A partial file sets what it names; every key must be one runs.config has.
    const nlohmann::json file = nlohmann::json::parse(in);
    if (!file.is_object()) throw std::invalid_argument("not a JSON object");
    nlohmann::json merged = to_json(cfg);
    for (const auto& [key, value] : file.items()) {
      if (!merged.contains(key)) {
        std::string known;
        for (const auto& [k, v] : merged.items()) known += (known.empty() ? "" : ", ") + k;
        throw std::invalid_argument("unknown key '" + key + "' (known: " + known + ")");
      }
      merged[key] = value;
    }
    apply_stored_config(merged, cfg);
  } catch (const std::exception& e) {
    throw std::runtime_error("run configuration " + path + ": " + e.what() +
                             " (write one with --print-config, or take runs.config from a run's database)");
  }
}

}  // namespace signfed::coord
