// signfed-coordinator: runs the rounds of a federated run; see --help.
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "core/codec/compress.h"
#include "coordinator/coordinator.h"

namespace {

// The one piece of process-wide state: set by SIGINT/SIGTERM, read by the round loop.
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

// Raises the soft open-file limit to the hard one: every connected client is
// a descriptor. Returns the limit in force.
rlim_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  return lim.rlim_cur;
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace signfed;
  coord::CoordinatorConfig cfg;
  std::string method = "signsgd", gamma = "1.0", tie = "zero", schedule = "constant";

  CLI::App app{"signfed-coordinator: runs federated sign-compressed training rounds over ZeroMQ and logs every "
               "round to SQLite.\nExample: signfed-coordinator --clients 5 --rounds 200 --method signsgd --db run.sqlite"};
  app.option_defaults()->always_capture_default();
  app.add_option("--endpoint", cfg.endpoint, "ZeroMQ endpoint to bind (tcp://, ipc:// or inproc://)");
  app.add_option("--db", cfg.db_path, "SQLite round log (created if missing)");
  app.add_flag("--resume", cfg.resume, "continue the last unfinished run in --db from its last logged round");
  app.add_option("--tag", cfg.tag, "free text stored with the run");
  app.add_option("--rounds", cfg.rounds, "number of rounds")->check(CLI::Range(1u, 10000000u));
  app.add_option("--clients", cfg.clients, "clients that must join before round 0")->check(CLI::Range(1u, 100000u));
  app.add_option("--min-clients", cfg.min_clients, "close a round once this many updates arrived (0: wait for all selected)");
  app.add_option("--fraction", cfg.fraction, "share of live clients selected each round (seeded)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--round-timeout", cfg.round_timeout_ms, "round deadline in ms")->check(CLI::Range(1u, 86400000u));
  std::string policy = "deadline";
  app.add_option("--policy", policy,
                 "straggler policy: all | deadline | adaptive:Q (1.2x the Q-quantile of recent latencies) | "
                 "overselect:E (select E extra, keep the first)");
  app.add_flag("--virtual-time", cfg.virtual_time,
               "admit updates by the clients' simulated latencies and log simulated time (simulation)");
  app.add_option("--dead-after", cfg.dead_after_ms, "a client silent this long (ms) is not selected");
  app.add_option("--join-timeout", cfg.join_timeout_ms, "how long to wait for --clients to join, ms");
  app.add_option("--model", cfg.model, "model spec: mlp, mlp:784-256-10, cnn");
  app.add_option("--seed", cfg.seed, "seed for model init, selection and tie coins");
  std::string init = "he";
  app.add_option("--init", init,
                 "initial parameters: he (He/Glorot uniform, zero biases) | torch (PyTorch's nn.Linear/Conv2d "
                 "defaults, U(+-1/sqrt(fan_in)) for weights and biases)")
      ->check(CLI::IsMember({"he", "torch"}));
  app.add_option("--method", method, "signsgd | s3gd | randk | signum | stochsign | efsign | fedsgd | fedavg");
  app.add_option("--gamma", gamma, "sparsity K/N for s3gd/randk, or 'auto' (S3GD-MV Corollary 1: M^(2/3) K = N)");
  app.add_option("--eta", cfg.method.eta, "error-compensation weight (S3GD-MV eq. (5))");
  app.add_option("--momentum", cfg.method.momentum,
                 "momentum mu on the voted signs: signum, s3gd, randk (S3GD-MV eqs. (25)-(26))")
      ->check(CLI::Range(0.0, 0.9999));
  app.add_option("--tie", tie, "tie rule for even voter counts: zero (no move) | random (seeded coin)")
      ->check(CLI::IsMember({"zero", "random"}));
  app.add_option("--batch", cfg.batch_size, "client minibatch size")->check(CLI::Range(1u, 65535u));
  app.add_option("--local-steps", cfg.local_steps, "minibatches per client per round")->check(CLI::Range(1u, 65535u));
  app.add_option("--lr", cfg.step_size, "step size delta (fedavg: the clients' local SGD step)")->check(CLI::PositiveNumber);
  app.add_option("--server-lr", cfg.server_lr, "fedavg: server step on the mean model delta")->check(CLI::PositiveNumber);
  std::string weighting = "samples";
  app.add_option("--weighting", weighting,
                 "mean-aggregated methods: weight clients by their sample counts (McMahan et al.) or uniformly")
      ->check(CLI::IsMember({"samples", "uniform"}));
  bool no_standardise = false;
  app.add_flag("--no-standardise", no_standardise,
               "feed raw inputs in [0,1]; default: (x - mean) / std with the training images' mean and std, "
               "computed here from --data and sent to every client");
  app.add_option("--schedule", schedule, "step schedule: constant | inv_sqrt (delta/sqrt(k+1)) | halving")
      ->check(CLI::IsMember({"constant", "inv_sqrt", "halving"}));
  app.add_option("--halve-every", cfg.halve_every, "rounds between halvings (--schedule halving)");
  app.add_flag("--guarded-step", cfg.guarded_step, "keep a step only if the participants' loss does not rise (Safaryan Alg. 1 Option 2)");
  app.add_option("--eval-every", cfg.eval_every, "evaluate on the test set every N rounds (0: never)");
  app.add_option("--data", cfg.data_dir, "directory with the IDX test files (default: Debian's Fashion-MNIST)");
  app.add_option("--test-limit", cfg.test_limit, "evaluate on the first N test samples (0: all)");
  app.add_option("--checkpoint-every", cfg.checkpoint_every, "keep a model checkpoint every N rounds");
  app.add_option("--progress-every", cfg.progress_every, "print a progress line every N rounds (0: automatic)");
  app.add_flag("--quiet", cfg.quiet, "no progress output");
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "PLAINTEXT transport: no authentication, no encryption (local demos and tests only)");
  app.add_option("--key", cfg.curve_key_file, "this coordinator's CURVE secret key file (signfed-keygen NAME.key)");
  app.add_option("--allow", cfg.allowlist_file,
                 "allowlist of client CURVE public keys (Z85, one per line, # comments); re-read when it changes");
  app.add_option("--max-clients", cfg.max_clients, "most distinct clients a run admits");
  app.add_option("--suspect-mads", cfg.suspect_mads,
                 "flag clients whose mean disagreement with the vote exceeds median + K*max(1.4826*MAD, 0.01) (0: off)");
  app.add_option("--db-max-pages", cfg.db_max_pages, "testing: cap the database at N pages (emulates a full disk)")
      ->group("");
  CLI11_PARSE(app, argc, argv);

  cfg.insecure = insecure;
  cfg.standardise = !no_standardise;
  model::parse_init(init, &cfg.init);
  cfg.weighting = weighting == "uniform" ? coord::Weighting::uniform : coord::Weighting::samples;
  if (insecure && (!cfg.curve_key_file.empty() || !cfg.allowlist_file.empty())) {
    std::fprintf(stderr, "signfed-coordinator: --insecure cannot be combined with --key/--allow\n");
    return 2;
  }
  if (!insecure && (cfg.curve_key_file.empty() || cfg.allowlist_file.empty())) {
    std::fprintf(stderr,
                 "signfed-coordinator: pass --key COORD.key and --allow CLIENTS.allow (make keys with signfed-keygen), "
                 "or --insecure for plaintext on a trusted network\n");
    return 2;
  }
  if (insecure)
    std::fprintf(stderr,
                 "\n"
                 "  !!! WARNING: signfed-coordinator runs with --insecure: PLAINTEXT transport.\n"
                 "  !!! Anyone who can reach %s can join, read the model and send updates,\n"
                 "  !!! and the traffic is neither authenticated nor encrypted. Use only on a trusted network.\n\n",
                 cfg.endpoint.c_str());
  const rlim_t fds = raise_fd_limit();
  if (fds != 0 && fds != RLIM_INFINITY && fds < static_cast<rlim_t>(cfg.clients) + 64) {
    std::fprintf(stderr,
                 "signfed-coordinator: the open-file limit is %llu but --clients %u needs about %u descriptors; "
                 "raise it (ulimit -n %u, or LimitNOFILE= in a systemd unit)\n",
                 static_cast<unsigned long long>(fds), cfg.clients, cfg.clients + 64, cfg.clients + 64);
    return 2;
  }

  if (!codec::parse_method(method, &cfg.method.method)) {
    std::fprintf(stderr, "signfed-coordinator: unknown --method '%s'; see --help\n", method.c_str());
    return 2;
  }
  {
    const auto given = [&](std::string_view f) { return app.count(std::string(f)) > 0; };
    const std::string err = coord::check_method_flags(cfg.method.method, given);
    if (!err.empty()) {
      std::fprintf(stderr, "signfed-coordinator: %s\n", err.c_str());
      return 2;
    }
  }
  if (gamma == "auto") {
    cfg.gamma_auto = true;
  } else {
    try {
      std::size_t used = 0;
      cfg.method.gamma = std::stof(gamma, &used);
      if (used != gamma.size() || !(cfg.method.gamma > 0.0f && cfg.method.gamma <= 1.0f)) throw std::invalid_argument("");
    } catch (const std::exception&) {
      std::fprintf(stderr, "signfed-coordinator: --gamma must be in (0, 1] or 'auto', got '%s'\n", gamma.c_str());
      return 2;
    }
  }
  try {
    cfg.policy = coord::parse_policy(policy);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "signfed-coordinator: %s\n", e.what());
    return 2;
  }
  cfg.method.tie_rule = tie == "random" ? wire::TieRule::random : wire::TieRule::zero;
  cfg.schedule = schedule == "inv_sqrt" ? wire::StepSchedule::inv_sqrt
                 : schedule == "halving" ? wire::StepSchedule::halving
                                         : wire::StepSchedule::constant;
  if (const std::string err =
          coord::check_flag_combinations(cfg, [&](std::string_view f) { return app.count(std::string(f)) > 0; });
      !err.empty()) {
    std::fprintf(stderr, "signfed-coordinator: %s\n", err.c_str());
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    zmq::context_t ctx;
    coord::Coordinator c(cfg, ctx, &g_stop);
    const coord::RunSummary s = c.run();
    std::printf("run %lld %s: %u rounds, final accuracy %.2f%%, uplink %.2f MB, downlink %.2f MB, digest %016llx, "
                "peak RSS %ld kB\n",
                static_cast<long long>(s.run_id), s.status.c_str(), s.rounds_done,
                s.final_accuracy < 0 ? 0.0 : s.final_accuracy * 100.0, s.uplink_bytes / 1e6, s.downlink_bytes / 1e6,
                static_cast<unsigned long long>(s.final_digest), peak_rss_kb());
    return s.status == "completed" ? 0 : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "signfed-coordinator: %s\n", e.what());
    return 1;
  }
}
