// signfed-sim: simulates a federation of M clients with the real coordinator
// and edge client code; see --help and docs/simulation.md.
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "coordinator/run_options.h"

#include "coordinator/units.h"
#include "core/methods/encoder.h"
#include "tools/sim/betainc.h"
#include "tools/sim/mpi_sim.h"
#include "tools/sim/plan.h"
#include "tools/sim/rosenbrock.h"
#include "tools/sim/sim.h"
#include "tools/sim/sim_db.h"
#include "tools/sim/sweep.h"

namespace {

using namespace signfed;
using coord::human_bytes;

struct Options {
  sim::SimConfig sim;
  coord::TrainingText text;  // the training options as given (coordinator/run_options.h)
  std::string slow, crash, tag;
  std::int64_t data_seed = -1;
  std::string sweep_file;
  std::vector<std::string> sweep_axes;
  std::string bin_dir;
  std::string data_path;  // --data: a directory (IDX) or a file (board format)
  std::string trace_at;
  bool verbose = false;
  std::set<std::string> given;  // long flags set on the command line (method-specific checks)
  std::set<std::string> base;   // sweep points: the flags that came from the base command line
};

std::unique_ptr<CLI::App> make_app(Options& o) {
  auto app = std::make_unique<CLI::App>(
      "signfed-sim: simulates a federation of M clients running the real signfed coordinator and edge client code "
      "(in one process over ZeroMQ inproc://, or as real processes with --processes), with non-IID partitions, "
      "stragglers, faults, simulated time, sweeps and SPB diagnostics. Every round goes to a SQLite log that "
      "signfed-report turns into an HTML page.\n\n"
      "Examples:\n"
      "  signfed-sim --clients 10 --partition class1 --method s3gd --gamma 0.1 --rounds 300 --db class1.sqlite\n"
      "  signfed-sim --clients 100 --slow 0.1:10 --virtual-time --policy adaptive:0.9 --db slow.sqlite\n"
      "  signfed-sim --sweep spec.txt --rounds 200 --db sweep.sqlite      (spec: lines 'method: signsgd, s3gd')\n"
      "  signfed-sim rosenbrock --nodes 1-9 --reps 500 --db rosen.sqlite\n");
  auto& sc = o.sim.coord;
  app->option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  auto* fed = "Federation";
  app->add_option("--clients,-M", o.sim.clients, "number of simulated clients M")->check(CLI::Range(1u, 100000u))->group(fed);
  app->add_option("--partition", o.sim.partition,
                  "data split: iid | class1 | halves | shards:C | dirichlet:ALPHA | quantity:SIGMA")->group(fed);
  app->add_option("--rounds", sc.rounds, "number of rounds")->check(CLI::Range(1u, 10000000u))->group(fed);
  app->add_option("--seed", sc.seed, "seed of model init, selection, ties, fleet and (unless --data-seed) the data split")
      ->group(fed);
  app->add_option("--data-seed", o.data_seed, "seed of the partition and minibatches (default: --seed)")->group(fed);
  app->add_option("--fraction", sc.fraction, "share of clients selected per round")->check(CLI::Range(0.0, 1.0))->group(fed);
  app->add_option("--data", o.data_path,
                  "training data to partition between the clients: a DIRECTORY with IDX train+test files (default: "
                  "Debian's Fashion-MNIST) or a FILE in a board format (CSV, .csv.gz, .npz; .npy or IDX with --labels; "
                  "then a central test set is --test FILE or none, --no-test)")
      ->group(fed);
  app->add_option("--labels", o.sim.train_file.labels_path, "labels file for --data FILE.npy or an IDX images file")
      ->group(fed);
  app->add_option("--label", o.sim.train_file.csv.label,
                  "CSV label column of --data FILE: a name or #N (#-1: the last); default label, target or class")
      ->group(fed);
  app->add_option("--holdout", o.sim.holdout,
                  "share of each client's samples held out from training and scored every --eval-every rounds "
                  "(federated evaluation, rounds.fed_accuracy); 0: none")
      ->check(CLI::Range(0.0, 0.5))
      ->group(fed);
  app->add_option("--workers", o.sim.workers, "threads driving the clients (in-process)")->check(CLI::Range(1u, 64u))->group(fed);
  app->add_flag("!--no-share", o.sim.share,
                "in-process: give every client its own model replica, gradient and encoder instead of sharing one "
                "replica and a bench of buffers per worker (docs/simulation.md; for comparison)")
      ->group(fed);
  app->add_option("--relays", o.sim.relays,
                  "in-process aggregation tree: N relays (clients spread over them), or N,M for two tiers (M lower "
                  "relays spread over N upper ones); the digests equal the flat run's (docs/relay.md)")
      ->delimiter(',')
      ->expected(1, 2)
      ->check(CLI::Range(1u, 10000u))
      ->group(fed);
  app->add_flag("--processes", o.sim.processes,
                "run the real signfed-coordinator and signfed-edge-faulty (signfed-edge plus --delay-ms for --slow) "
                "binaries on tcp loopback")
      ->group(fed);
  app->add_flag("--mpi", o.sim.mpi,
                "spread the clients over MPI ranks (start with mpirun -np N): each rank trains its slice, the ranks "
                "reduce integer tallies, rank 0 aggregates and logs (docs/simulation.md, 'Across machines: --mpi')")
      ->group(fed);
  app->add_option("--bin-dir", o.bin_dir, "directory of the binaries for --processes (default: this build's)")->group(fed);
  app->add_option("--log-dir", o.sim.log_dir, "where --processes writes the binaries' logs (default: a new /tmp dir)")
      ->group(fed);

  coord::add_training_options(*app, sc, o.text, "Training (the coordinator's options)", "Stragglers, time and faults");
  auto* st = "Stragglers, time and faults";
  app->add_option("--ms-per-sample", o.sim.fleet.ms_per_sample, "median compute time per training sample, ms")->group(st);
  app->add_option("--speed-sigma", o.sim.fleet.speed_sigma, "compute factor ~ lognormal(mu, sigma) per client")->group(st);
  app->add_option("--speed-mu", o.sim.fleet.speed_mu, "mu of that lognormal")->group(st);
  app->add_option("--slow", o.slow, "F:X: exactly round(F*M) clients are X times slower (e.g. 0.1:10)")->group(st);
  app->add_option("--trace", o.sim.fleet.trace_path, "trace file: lines 'ms_per_sample up_mbps down_mbps latency_ms'")->group(st);
  app->add_option("--up-mbps", o.sim.fleet.up_mbps, "uplink bandwidth, Mbit/s")->group(st);
  app->add_option("--down-mbps", o.sim.fleet.down_mbps, "downlink bandwidth, Mbit/s")->group(st);
  app->add_option("--latency-ms", o.sim.fleet.latency_ms, "one-way network latency, ms")->group(st);
  app->add_option("--net-sigma", o.sim.fleet.net_sigma, "bandwidth factor ~ lognormal(0, sigma) per client")->group(st);
  app->add_option("--dropout", o.sim.faults.dropout, "probability a client silently skips a round")
      ->check(CLI::Range(0.0, 1.0))->group(st);
  app->add_option("--crash", o.crash, "CLIENT@ROUND,...: destroy that client after it applied ROUND rounds and "
                                      "re-create it (it rejoins and gets a snapshot)")->group(st);

  auto* lg = "Log, sweeps and diagnostics";
  app->add_option("--db", sc.db_path, "SQLite log (runs of a sweep go to the same file; SQLite only, not a postgresql:// URL)")->group(lg);
  app->add_option("--tag", o.tag, "tag stored in runs.tag (default: the configuration, e.g. 'method=s3gd ... seed=1')")->group(lg);
  app->add_option("--sweep", o.sweep_file, "sweep spec file: one 'option: v1, v2, ...' line per axis")->group(lg);
  app->add_option("--sweep-axis", o.sweep_axes, "inline sweep axis 'option=v1,v2' (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->group(lg);
  app->add_option("--spb-probe", o.sim.spb_every, "every R rounds, estimate the SPB success probabilities (0: off)")->group(lg);
  app->add_option("--spb-draws", o.sim.spb_draws, "minibatches per client per probe")->group(lg);
  app->add_option("--export-plan", o.sim.export_plan_dir,
                  "write a run plan (init, shards, minibatches, traces) for tools/reference (see PLAN.md there)")
      ->group(lg);
  app->add_option("--trace-rounds", o.sim.trace_rounds, "with --export-plan: trace rounds 0..N-1")->group(lg);
  app->add_option("--trace-at", o.trace_at, "with --export-plan: also trace these rounds, e.g. 500,999")->group(lg);
  app->add_flag("--plan-only", o.sim.plan_only,
                "with --export-plan: write the plan (init, shards, minibatches, plan.json) and stop, without "
                "running the federation (the reference can then run it alone)")->group(lg);
  app->add_option("--progress-every", sc.progress_every, "coordinator progress line every N rounds (0: automatic)")->group(lg);
  app->add_flag("--verbose", o.verbose, "coordinator progress in sweeps, and the clients' own messages");
  app->add_flag("--quiet", sc.quiet, "only the final summary line");
  return app;
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Completes o.sim from the string options; returns an error message or "".
std::string finish(Options& o) {
  auto& sc = o.sim.coord;
  // In a sweep, flags of the base command line apply to the points whose
  // method uses them (checked across the sweep in sim_main); a sweep axis's
  // own flags, and every flag of a single run, must be used by the method.
  const auto given = [&](std::string_view f) { return o.given.count(std::string(f)) > 0; };
  const auto method_flag_given = [&](std::string_view f) { return given(f) && !o.base.count(std::string(f)); };
  if (std::string err = coord::apply_training_options(o.text, method_flag_given, given, sc); !err.empty()) return err;
  if (sc.standardise && sc.input_stats == coord::CoordinatorConfig::InputStats::federated) {
    // Both need the run's input transform before it starts; federated statistics exist only once the clients joined.
    if (o.sim.spb_every > 0) return "--spb-probe cannot be combined with --input-stats federated; drop one of them";
    if (!o.sim.export_plan_dir.empty())
      return "--export-plan writes scalar input statistics for the Python reference; drop --input-stats federated";
  }
  if ((o.given.count("--trace-rounds") || o.given.count("--trace-at") || o.sim.plan_only) &&
      o.sim.export_plan_dir.empty())
    return "--trace-rounds, --trace-at and --plan-only go with --export-plan DIR";
  if (!o.sim.export_plan_dir.empty() && (sc.aggregate.rule != methods::AggregateRule::mean || sc.aggregate.clip > 0))
    return "--export-plan writes a plan for the Python reference, which implements only the plain mean: drop "
           "--aggregate and --clip, or --export-plan";
  if (o.sim.plan_only && (o.given.count("--trace-rounds") || o.given.count("--trace-at")))
    return "--plan-only runs nothing, so it traces nothing: drop --trace-rounds and --trace-at";
  if (!o.sim.relays.empty() && o.sim.processes)
    return "--relays runs the tree in-process; for processes start signfed-relay yourself (docs/relay.md)";
  if (o.sim.relays.size() == 2 && o.sim.relays[1] < o.sim.relays[0])
    return "--relays N,M: M lower relays spread over N upper ones, so M must be at least N";
  try {
    if (!o.trace_at.empty()) o.sim.trace_at = sim::parse_round_list(o.trace_at);
    if (!o.slow.empty()) sim::parse_slow(o.slow, o.sim.fleet);
    if (!o.crash.empty()) o.sim.faults.crashes = sim::parse_crashes(o.crash);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  o.sim.data_seed = o.data_seed >= 0 ? static_cast<std::uint64_t>(o.data_seed) : sc.seed;
  if (!o.data_path.empty() && std::filesystem::is_regular_file(o.data_path)) {
    o.sim.train_file.path = o.data_path;
    if (o.sim.processes)
      return "--processes runs signfed-edge, whose --data FILE is one board's own data: partition a data file "
             "in-process (drop --processes) or give each board its file";
    if (!o.sim.export_plan_dir.empty()) return "--export-plan reads the IDX training set: drop --data FILE";
    if (sc.standardise && !(std::isfinite(sc.input_mean) && std::isfinite(sc.input_std)))
      return "--data FILE: the pixel statistics of the IDX set do not apply; pass --no-standardise (give the "
             "clients data in a sensible range)";
  } else {
    if (o.given.count("--labels") || o.given.count("--label"))
      return "--labels and --label describe a --data FILE; --data is a directory here";
    o.sim.train_dir = o.data_path;
  }
  sc.data_dir = o.sim.train_dir;
  sc.clients = o.sim.clients;
  o.sim.verbose_clients = o.verbose;
  const std::string dir = o.bin_dir.empty() ? "" : o.bin_dir + "/";
  o.sim.coordinator_bin = dir.empty() ? SIGNFED_COORDINATOR_BIN : dir + "signfed-coordinator";
  o.sim.edge_bin = dir.empty() ? SIGNFED_EDGE_BIN : dir + "signfed-edge-faulty";  // --delay-ms for --slow
  if (o.tag.empty()) {
    o.tag = "method=" + o.text.method;
    if (o.text.method == "s3gd" || o.text.method == "randk") o.tag += " gamma=" + o.text.gamma;
    o.tag += " partition=" + o.sim.partition + " clients=" + std::to_string(o.sim.clients) + " tie=" + o.text.tie +
             " policy=" + o.text.policy + " lr=" + fmt(sc.step_size) + " batch=" + std::to_string(sc.batch_size);
    if (!o.slow.empty()) o.tag += " slow=" + o.slow;
    if (sc.virtual_time) o.tag += " vt=1";
    o.tag += " seed=" + std::to_string(sc.seed);
  }
  sc.tag = o.tag;
  return "";
}

std::string human_time(double s) {
  if (s >= 3600) return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{:.1f}s", s);
}

int run_one(const Options& o, std::shared_ptr<const data::Dataset> train) {
  const sim::SimResult r = sim::run_sim(o.sim, std::move(train));
  const auto& s = r.summary;
  if (s.status == "worker") return 0;  // --mpi, rank > 0: rank 0 reports
  if (s.status == "planned") {
    fmt::print("plan written to {} (no federation run: --plan-only)\n", o.sim.export_plan_dir);
    return 0;
  }
  const std::string accuracy =
      s.final_accuracy >= 0
          ? fmt::format("final {:.2f}% (best {:.2f}%)", s.final_accuracy * 100.0, s.best_accuracy * 100.0)
          : o.sim.coord.central_test ? "not evaluated (--eval-every 0)" : "no central test (--no-test)";
  fmt::print("run {} {} [{}]: {} rounds, {}, uplink {}, downlink {}, wall {}, "
             "digests {}/{} equal, crashes {}, peak RSS {:.0f} MB\n",
             s.run_id, s.status, o.sim.coord.tag, s.rounds_done, accuracy,
             human_bytes(static_cast<double>(s.uplink_bytes)), human_bytes(static_cast<double>(s.downlink_bytes)),
             human_time(r.wall_s), r.digests_equal, r.clients_checked, r.crashes, r.peak_rss_kb / 1024.0);
  std::fflush(stdout);
  if (s.status != "completed") return 3;
  return r.digests_equal == r.clients_checked ? 0 : 4;
}

// Re-parses the base command line plus one sweep point's options.
int parse_into(Options& o, const std::vector<std::string>& args) {
  auto app = make_app(o);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app->parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app->exit(e);
  }
  for (const CLI::Option* opt : app->get_options())
    if (opt->count() > 0 && !opt->get_lnames().empty()) o.given.insert("--" + opt->get_lnames().front());
  return -1;
}

int sim_main(int argc, char** argv) {
  Options o;
  std::vector<std::string> base(argv, argv + argc);
  if (const int rc = parse_into(o, base); rc >= 0) return rc;
  std::vector<sim::SweepAxis> axes;
  try {
    if (!o.sweep_file.empty()) {
      std::ifstream f(o.sweep_file);
      if (!f) throw std::invalid_argument("cannot read sweep spec " + o.sweep_file);
      std::stringstream ss;
      ss << f.rdbuf();
      axes = sim::parse_sweep(ss.str());
    }
    for (const auto& a : o.sweep_axes) axes.push_back(sim::parse_axis(a));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "signfed-sim: {}\n", e.what());
    return 2;
  }
  // --mpi: every rank parses the same command line; only rank 0 speaks.
  std::optional<sim::MpiSession> mpi;
  if (o.sim.mpi) {
    if (!sim::mpi_built()) {
      fmt::print(stderr, "signfed-sim: --mpi: {}\n", sim::mpi_refusal(o.sim, [](std::string_view) { return false; }));
      return 2;
    }
    if (!axes.empty()) {
      fmt::print(stderr, "signfed-sim: --mpi runs one federation; it cannot be combined with a sweep\n");
      return 2;
    }
    mpi.emplace(&argc, &argv);
    if (mpi->rank() != 0) {
      o.sim.coord.quiet = true;
      o.sim.print_partition = false;
    }
  }
  const bool speaks = !mpi || mpi->rank() == 0;
  if (!axes.empty() && !o.sim.export_plan_dir.empty()) {
    fmt::print(stderr, "signfed-sim: --export-plan writes one run's plan; it cannot be combined with a sweep\n");
    return 2;
  }
  if (axes.empty()) {
    std::string err = finish(o);
    if (err.empty() && mpi)
      err = sim::mpi_refusal(o.sim, [&](std::string_view f) { return o.given.count(std::string(f)) > 0; });
    if (!err.empty()) {
      if (speaks) fmt::print(stderr, "signfed-sim: {}; see --help\n", err);
      return 2;
    }
    try {
      return run_one(o, sim::load_train(o.sim));
    } catch (const std::exception& e) {
      fmt::print(stderr, "signfed-sim{}: {}\n", mpi ? fmt::format(" (MPI rank {})", mpi->rank()) : "", e.what());
      if (mpi) sim::MpiSession::abort(1);  // the other ranks wait in a collective
      return 1;
    }
  }
  // Sweep: strip --sweep/--sweep-axis from the base command line.
  std::vector<std::string> stripped;
  for (std::size_t i = 0; i < base.size(); ++i) {
    const std::string& a = base[i];
    if (a == "--sweep" || a == "--sweep-axis") {
      ++i;
      continue;
    }
    if (a.rfind("--sweep=", 0) == 0 || a.rfind("--sweep-axis=", 0) == 0) continue;
    stripped.push_back(a);
  }
  const std::vector<sim::SweepPoint> points = sim::expand(axes);
  // Validate every point before running any.
  std::vector<Options> runs(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    std::vector<std::string> args = stripped;
    for (const auto& [k, v] : points[i]) {
      args.push_back("--" + k);
      args.push_back(v);
    }
    if (const int rc = parse_into(runs[i], args); rc >= 0) {
      fmt::print(stderr, "signfed-sim: sweep point {} ({}) is not a valid command line\n", i + 1,
                 sim::point_text(points[i]));
      return rc == 0 ? 2 : rc;
    }
    if (!runs[i].verbose) runs[i].sim.coord.quiet = true;
    runs[i].base = o.given;
    for (const auto& [k, v] : points[i]) runs[i].base.erase("--" + k);
    if (std::string err = finish(runs[i]); !err.empty()) {
      fmt::print(stderr, "signfed-sim: sweep point {}: {}\n", sim::point_text(points[i]), err);
      return 2;
    }
    runs[i].sim.print_partition = runs[i].verbose;
  }
  // A method-specific flag of the base command line must serve some point.
  for (const std::string& flag : runs.front().base) {
    std::string err;
    bool used = false;
    for (const Options& r : runs) {
      err = coord::check_method_flags(r.sim.coord.method.method, [&](std::string_view f) { return f == flag; });
      used |= err.empty();
    }
    if (!used) {
      fmt::print(stderr, "signfed-sim: no run of the sweep uses it: {}\n", err);
      return 2;
    }
  }
  fmt::print("sweep: {} runs ({} axes) into {}\n", runs.size(), axes.size(), o.sim.coord.db_path);
  std::shared_ptr<const data::Dataset> train;
  int worst = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    constexpr int kBar = 30;
    const int filled = static_cast<int>(kBar * i / runs.size());
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kBar, '.');
    fmt::print("[{}] {}/{}  elapsed {}  eta {}  {}\n", bar, i, runs.size(), human_time(el),
               i == 0 ? "?" : human_time(el / i * (runs.size() - i)), sim::point_text(points[i]));
    std::fflush(stdout);
    try {
      if (!train || runs[i].sim.train_dir != runs[0].sim.train_dir || runs[i].sim.train_file.path != runs[0].sim.train_file.path) train = sim::load_train(runs[i].sim);
      worst = std::max(worst, run_one(runs[i], train));
    } catch (const std::exception& e) {
      fmt::print(stderr, "signfed-sim: run {} ({}) failed: {}\n", i + 1, sim::point_text(points[i]), e.what());
      worst = std::max(worst, 1);
    }
  }
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("[{}] {}/{}  done in {}\n", std::string(30, '#'), runs.size(), runs.size(), human_time(el));
  return worst;
}

// ---- rosenbrock ----------------------------------------------------------------

std::vector<std::uint32_t> parse_nodes(const std::string& text) {
  std::vector<std::uint32_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(static_cast<std::uint32_t>(std::stoul(item)));
    } else {
      const auto a = std::stoul(item.substr(0, dash)), b = std::stoul(item.substr(dash + 1));
      for (auto m = a; m <= b; ++m) out.push_back(static_cast<std::uint32_t>(m));
    }
  }
  for (auto m : out)
    if (m == 0) throw std::invalid_argument("--nodes: counts must be >= 1");
  return out;
}

int rosenbrock_main(int argc, char** argv) {
  sim::RosenbrockConfig cfg;
  std::string nodes = "1-9", schedule = "constant", tie = "zero", db, tag;
  std::uint32_t reps = 500;
  std::uint64_t seed = 1;
  double x0 = 0.0;
  CLI::App app{"signfed-sim rosenbrock: distributed signSGD with majority vote on the d-dimensional Rosenbrock "
               "function (Safaryan & Richtarik Sec. 5.1), stochastic gradient grad f_i(x) + N(0, nu^2 I), i uniform; "
               "prints mean +- standard error of f(x_K) over repetitions for each node count M and logs f vs "
               "iteration (table rosenbrock).\nExample: signfed-sim rosenbrock --nodes 1-9 --reps 500 --iters 1000 "
               "--db rosen.sqlite"};
  app.option_defaults()->always_capture_default();
  app.add_option("--nodes", nodes, "node counts M: list and ranges, e.g. 1-9 or 1,5,9");
  app.add_option("--reps", reps, "repetitions per M")->check(CLI::Range(1u, 1000000u));
  app.add_option("--iters", cfg.iters, "iterations K")->check(CLI::Range(1u, 10000000u));
  app.add_option("--dim", cfg.dim, "dimension d")->check(CLI::Range(2u, 100000u));
  app.add_option("--gamma", cfg.gamma0, "step size gamma (or gamma0 with --schedule inv_sqrt)")->check(CLI::PositiveNumber);
  app.add_option("--schedule", schedule, "constant | inv_sqrt (gamma0/sqrt(k+1))")->check(CLI::IsMember({"constant", "inv_sqrt"}));
  app.add_option("--batch", cfg.batch, "minibatch size tau")->check(CLI::Range(1u, 1000000u));
  app.add_option("--nu", cfg.nu, "noise standard deviation nu")->check(CLI::NonNegativeNumber);
  app.add_option("--tie", tie, "tie rule for even M: zero | random")->check(CLI::IsMember({"zero", "random"}));
  app.add_option("--x0", x0, "initial point: every coordinate set to this value");
  app.add_option("--seed", seed, "seed");
  app.add_option("--db", db, "SQLite file for the curves (table rosenbrock); optional");
  app.add_option("--tag", tag, "tag stored with the experiment");
  CLI11_PARSE(app, argc, argv);
  try {
    cfg.inv_sqrt = schedule == "inv_sqrt";
    cfg.tie = tie == "random" ? wire::TieRule::random : wire::TieRule::zero;
    cfg.x0.assign(cfg.dim, x0);
    const std::vector<std::uint32_t> ms = parse_nodes(nodes);
    if (tag.empty())
      tag = "rosenbrock d=" + std::to_string(cfg.dim) + " tau=" + std::to_string(cfg.batch) + " nu=" + fmt(cfg.nu) +
            " gamma=" + fmt(cfg.gamma0) + " " + schedule + " tie=" + tie + " K=" + std::to_string(cfg.iters);
    nlohmann::json cj = {{"dim", cfg.dim}, {"batch", cfg.batch}, {"nu", cfg.nu}, {"gamma0", cfg.gamma0},
                         {"schedule", schedule}, {"tie", tie}, {"iters", cfg.iters}, {"reps", reps},
                         {"seed", seed}, {"x0", x0}};
    std::optional<SQLite::Database> out;
    std::int64_t exp_id = 0;
    if (!db.empty()) {
      out.emplace(sim::open_sim_db(db));
      exp_id = out->execAndGet("SELECT COALESCE(MAX(exp_id), 0) FROM rosenbrock").getInt64() + 1;
    }
    fmt::print("{}, {} repetitions, f(x0) = {:.4g}\n", tag, reps, sim::rosenbrock_value(cfg.x0));
    fmt::print("{:>4}  {:>14}  {:>12}  {:>10}\n", "M", "mean f(x_K)", "std. error", "time");
    for (std::uint32_t m : ms) {
      cfg.nodes = m;
      const auto t0 = std::chrono::steady_clock::now();
      const sim::SeriesStats s = sim::run_rosenbrock_reps(cfg, reps, data::mix_seed(seed, m, 0x40));
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print("{:4}  {:>14.5f}  {:>12.5f}  {:>10}\n", m, s.mean.back(), s.se.back(), human_time(el));
      std::fflush(stdout);
      if (out) {
        SQLite::Transaction tx(*out, SQLite::TransactionBehavior::IMMEDIATE);
        SQLite::Statement ins(*out, "INSERT OR REPLACE INTO rosenbrock VALUES(?,?,?,?,?,?,?,?)");
        for (std::size_t k = 0; k < s.mean.size(); ++k) {
          ins.reset();
          SQLite::bind(ins, exp_id, tag, cj.dump(), m, reps, static_cast<std::int64_t>(k), s.mean[k], s.se[k]);
          ins.exec();
        }
        tx.commit();
      }
    }
    if (out) fmt::print("logged as experiment {} in {} (table rosenbrock)\n", exp_id, db);
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-sim rosenbrock: {}\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "rosenbrock") return rosenbrock_main(argc - 1, argv + 1);
  return sim_main(argc, argv);
}
