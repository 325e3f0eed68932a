// signfed-coordinator: runs the rounds of a federated run; see --help.
#include <sys/resource.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/methods/encoder.h"
#include "coordinator/coordinator.h"
#include "coordinator/run_options.h"
#include "net/stop_signal.h"

namespace {

// Exit codes (--help, README, docs/security.md).
constexpr int kExitInterrupted = 3;  // stopped by the stop token without a signal (not reachable from the CLI)
int exit_code_for_signal(int sig) { return sig > 0 ? 128 + sig : kExitInterrupted; }  // 130 SIGINT, 143 SIGTERM

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

namespace {

// Every round allocates and frees buffers of the model's size per client
// (received packets, send queues: 407 KB each for fedsgd at the default MLP).
// glibc serves such blocks with mmap and returns the heap's top to the kernel
// once 128 KB+ is free, so each round paid page faults and munmap for memory
// it needed again the next round: a third of fedsgd's coordinator CPU at M = 50
// (docs/perf-coordinator.md). Kept instead: peak RSS is what a round needs anyway.
void keep_round_buffers() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 64 << 20);   // blocks below 64 MB from the heap, reused
  mallopt(M_TRIM_THRESHOLD, 256 << 20);  // the heap's free top kept up to 256 MB
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using namespace signfed;
  keep_round_buffers();
  coord::CoordinatorConfig cfg;

  CLI::App app{"signfed-coordinator: runs federated sign-compressed training rounds over ZeroMQ and logs every "
               "round to SQLite.\nExample: signfed-coordinator --clients 5 --rounds 200 --method signsgd --db run.sqlite"};
  app.footer(
      "Exit codes: 0 the run completed; 1 error (message on stderr: bind, keys, database, too few clients "
      "joined); 2 bad flags; 130 stopped by SIGINT, 143 stopped by SIGTERM (the run is logged as 'interrupted' "
      "with every finished round: continue it with --resume).");
  app.option_defaults()->always_capture_default();
  std::string config_file;
  bool print_config = false;
  app.add_option("--config", config_file,
                 "run configuration (JSON, as --print-config writes it or runs.config stores it); flags given "
                 "with it override its values")
      ->check(CLI::ExistingFile);
  app.add_flag("--print-config", print_config, "print the run configuration these flags make, as JSON, and exit");
  app.add_option("--endpoint", cfg.endpoint, "ZeroMQ endpoint to bind (tcp://, ipc:// or inproc://)");
  app.add_option("--db", cfg.db_path,
                 "round log: a SQLite file (created if missing) or a postgresql://... URL (docs/postgresql.md)");
  app.add_flag("--resume", cfg.resume, "continue the last unfinished run in --db from its last logged round");
  app.add_option("--tag", cfg.tag, "free text stored with the run");
  app.add_option("--rounds", cfg.rounds, "number of rounds")->check(CLI::Range(1u, 10000000u));
  app.add_option("--clients", cfg.clients, "clients that must join before round 0")->check(CLI::Range(1u, 100000u));
  app.add_option("--min-clients", cfg.min_clients, "close a round once this many updates arrived (0: wait for all selected)");
  app.add_option("--fraction", cfg.fraction, "share of live clients selected each round (seeded)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--dead-after", cfg.dead_after_ms, "a client silent this long (ms) is not selected");
  app.add_option("--join-timeout", cfg.join_timeout_ms, "how long to wait for --clients to join, ms");
  app.add_option("--seed", cfg.seed, "seed for model init, selection and tie coins");
  coord::TrainingText text;
  coord::add_training_options(app, cfg, text, "Training", "Stragglers");
  app.add_option("--data", cfg.data_dir, "directory with the IDX test files (default: Debian's Fashion-MNIST)");
  app.add_option("--checkpoint-every", cfg.checkpoint_every,
                 "write a full model checkpoint every N rounds (and at the first and last round); the vote log holds "
                 "each round's result between them, replayed by --resume and signfed-export --round")
      ->capture_default_str();
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
  if (!config_file.empty()) {
    // The file first, then the flags given on the command line over it.
    try {
      coord::load_config_file(config_file, cfg);
    } catch (const std::exception& e) {
      fmt::print(stderr, "signfed-coordinator: {}\n", e.what());
      return 2;
    }
    text = coord::training_text_of(cfg);
    app.clear();
    CLI11_PARSE(app, argc, argv);
  }
  const auto given = [&](std::string_view f) { return app.count(std::string(f)) > 0; };
  if (const std::string err = coord::apply_training_options(text, given, given, cfg); !err.empty()) {
    fmt::print(stderr, "signfed-coordinator: {}\n", err);
    return 2;
  }
  // --data is the test set's and the input statistics' directory: with neither used it would do nothing.
  if (given("--data") && !cfg.central_test &&
      (!cfg.standardise || cfg.input_stats == coord::CoordinatorConfig::InputStats::federated ||
       (std::isfinite(cfg.input_mean) && std::isfinite(cfg.input_std)))) {
    fmt::print(stderr, "signfed-coordinator: --data has no effect with --no-test and the input statistics given; remove it\n");
    return 2;
  }
  for (const CLI::Option* o : app.get_options())
    if (o->count() > 0) cfg.flags_given.push_back(o->get_name());
  if (print_config) {
    if (cfg.resume) {  // the configuration --resume would continue with
      try {
        const auto r = coord::RoundLog(cfg.db_path).find_resumable();
        if (!r) {
          fmt::print(stderr, "signfed-coordinator: --resume: no unfinished run in {}\n", coord::shown_db(cfg.db_path));
          return 1;
        }
        fmt::print("{}\n", nlohmann::json::parse(r->config_json).dump(2));
        return 0;
      } catch (const std::exception& e) {
        fmt::print(stderr, "signfed-coordinator: {}\n", e.what());
        return 1;
      }
    }
    fmt::print("{}\n", coord::to_json(cfg).dump(2));
    return 0;
  }
  cfg.insecure = insecure;
  if (insecure && (!cfg.curve_key_file.empty() || !cfg.allowlist_file.empty())) {
    fmt::print(stderr, "signfed-coordinator: --insecure cannot be combined with --key/--allow\n");
    return 2;
  }
  if (!insecure && (cfg.curve_key_file.empty() || cfg.allowlist_file.empty())) {
    fmt::print(stderr,
               "signfed-coordinator: pass --key COORD.key and --allow CLIENTS.allow (make keys with signfed-keygen), "
               "or --insecure for plaintext on a trusted network\n");
    return 2;
  }
  if (insecure)
    fmt::print(stderr,
               "\n"
               "  !!! WARNING: signfed-coordinator runs with --insecure: PLAINTEXT transport.\n"
               "  !!! Anyone who can reach {} can join, read the model and send updates,\n"
               "  !!! and the traffic is neither authenticated nor encrypted. There is no identity at all:\n"
               "  !!! one machine can join under as many names as it opens connections, and out-vote the rest.\n"
               "  !!! Use only on a trusted network.\n\n",
               cfg.endpoint);
  const rlim_t fds = raise_fd_limit();
  if (fds != 0 && fds != RLIM_INFINITY && fds < static_cast<rlim_t>(cfg.clients) + 64) {
    // Behind relays (signfed-relay) the coordinator holds one descriptor per
    // relay, not per client, so a low limit is only a warning.
    fmt::print(stderr,
               "signfed-coordinator: warning: the open-file limit is {}: if all {} clients connect here directly "
               "they need about {} descriptors, and those past the limit cannot connect; raise it (ulimit -n {}, "
               "or LimitNOFILE= in a systemd unit), or put signfed-relay in front of them (docs/relay.md)\n",
               fds, cfg.clients, cfg.clients + 64, cfg.clients + 64);
  }

  const std::atomic<bool>& stop = net::install_stop_signals();
  try {
    zmq::context_t ctx;
    coord::Coordinator c(cfg, ctx, &stop);
    const coord::RunSummary s = c.run();
    const auto percent = [](double a) { return a < 0 ? std::string("-") : fmt::format("{:.2f}%", a * 100.0); };
    fmt::print("run {} {}: {} rounds, final accuracy {}{}, uplink {:.2f} MB, downlink {:.2f} MB, digest {:016x}, "
               "peak RSS {} kB\n",
               s.run_id, s.status, s.rounds_done, percent(s.final_accuracy),
               s.final_fed_accuracy < 0 ? std::string() : ", federated hold-out " + percent(s.final_fed_accuracy),
               s.uplink_bytes / 1e6, s.downlink_bytes / 1e6, s.final_digest, peak_rss_kb());
    if (s.status == "completed") return 0;
    fmt::print(stderr,
               "signfed-coordinator: stopped by {}: run {} is 'interrupted' with {} rounds logged in {}; "
               "continue it with --resume --db {}\n",
               net::stop_signal_name(), s.run_id, s.rounds_done, coord::shown_db(cfg.db_path), coord::shown_db(cfg.db_path));
    return exit_code_for_signal(net::stop_signal());
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-coordinator: {}\n", e.what());
    return 1;
  }
}
