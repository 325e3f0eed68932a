#include "tools/sim/sim.h"

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <exception>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/methods/encoder.h"
#include "edge/edge_client.h"
#include "relay/relay.h"
#include "core/kernels/sign_kernels.h"
#include "net/loopback.h"
#include "tools/sim/mpi_sim.h"
#include "tools/sim/plan.h"
#include "tools/sim/sim_db.h"

extern char** environ;

namespace signfed::sim {

namespace {

double mono_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// RUSAGE_CHILDREN: the largest waited-for child (--processes), not a sum.
long peak_rss_kb(int who = RUSAGE_SELF) {
  rusage u{};
  getrusage(who, &u);
  return u.ru_maxrss;
}

// Runs the SPB probe every `every` rounds and at the last one, keeps its rows
// and prints its summary line.
class SpbWatch final : public coord::RoundObserver {
 public:
  SpbWatch(SpbProbe& probe, std::vector<SpbRow>& rows, std::uint32_t every, bool quiet)
      : probe_(probe), rows_(rows), every_(every), quiet_(quiet) {}
  void round_end(const coord::RoundRow& row, std::span<const float> params, bool last_round) override {
    if (row.round % every_ != 0 && !last_round) return;
    rows_.push_back(probe_.probe(row.round, params));
    const SpbRow& s = rows_.back();
    if (!quiet_)
      fmt::print("spb probe round {}: {:.1f}% of coordinates with pooled rho <= 1/2 (per client {:.1f}%), "
                 "vote more likely wrong than right on {:.1f}%, mean P(vote right) {:.3f}, abstained {:.1f}%, "
                 "rho-norm/|g|_1 {:.3f}, rho_M-norm/|g|_1 {:.3f}\n",
                 row.round + 1, 100.0 * s.frac_le_half, 100.0 * s.client_frac_le_half, 100.0 * s.vote_frac_le_half,
                 s.mean_vote_right, 100.0 * s.abstain_frac, s.rho_norm / std::max(s.l1, 1e-300),
                 s.rho_m_norm / std::max(s.l1, 1e-300));
  }

 private:
  SpbProbe& probe_;
  std::vector<SpbRow>& rows_;
  std::uint32_t every_;
  bool quiet_;
};

// Bytes the latency model charges for the downlink of one round.
std::size_t downlink_model_bytes(wire::Method m, std::size_t params) {
  return methods::is_vote_method(m) ? kernels::packed_bytes(params) : 4 * params;
}

nlohmann::json sim_json(const SimConfig& c) {
  nlohmann::json j;
  j["clients"] = c.clients;
  j["partition"] = c.partition;
  j["data_seed"] = c.data_seed;
  j["mode"] = c.processes ? "processes" : c.mpi ? "mpi" : "inproc";
  if (c.mpi) j["ranks"] = mpi_size();
  j["workers"] = c.workers;
  j["share"] = c.share;
  j["virtual_time"] = c.coord.virtual_time;
  j["fleet"] = {{"ms_per_sample", c.fleet.ms_per_sample}, {"speed_mu", c.fleet.speed_mu},
                {"speed_sigma", c.fleet.speed_sigma}, {"slow_fraction", c.fleet.slow_fraction},
                {"slow_factor", c.fleet.slow_factor}, {"up_mbps", c.fleet.up_mbps},
                {"down_mbps", c.fleet.down_mbps}, {"latency_ms", c.fleet.latency_ms},
                {"net_sigma", c.fleet.net_sigma}, {"trace", c.fleet.trace_path}};
  nlohmann::json crashes = nlohmann::json::array();
  for (const auto& k : c.faults.crashes) crashes.push_back({{"client", k.client}, {"after_round", k.after_round}});
  j["faults"] = {{"dropout", c.faults.dropout}, {"crashes", crashes}};
  j["spb_every"] = c.spb_every;
  j["spb_draws"] = c.spb_draws;
  return j;
}

void log_result(const SimConfig& cfg, const SimResult& r, const std::vector<std::vector<std::uint32_t>>& shards,
                const data::Dataset& train, const std::vector<ClientProfile>& profiles) {
  SQLite::Database db = open_sim_db(cfg.coord.db_path);
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  const std::int64_t run = r.summary.run_id;
  SQLite::Statement run_row(db, "INSERT OR REPLACE INTO sim_runs VALUES(?,?,?,?,?,?,?)");
  SQLite::bind(run_row, run, sim_json(cfg).dump(), r.wall_s, static_cast<std::int64_t>(r.peak_rss_kb), r.clients_checked,
               r.digests_equal, r.crashes);
  run_row.exec();
  SQLite::Statement client_row(db, "INSERT OR REPLACE INTO sim_clients VALUES(?,?,?,?,?,?,?,?,?)");
  for (std::uint32_t c = 0; c < shards.size(); ++c) {
    std::map<int, std::uint32_t> cls;
    for (std::uint32_t s : shards[c]) ++cls[train.labels[s]];
    nlohmann::json cj = nlohmann::json::object();
    for (auto [k, n] : cls) cj[std::to_string(k)] = n;
    const ClientProfile& p = profiles[c];
    client_row.reset();
    SQLite::bind(client_row, run, c, static_cast<std::int64_t>(shards[c].size()), cj.dump(), p.ms_per_sample,
                 p.up_bytes_per_ms * 8.0 / 1000.0, p.down_bytes_per_ms * 8.0 / 1000.0, p.latency_ms, p.slow ? 1 : 0);
    client_row.exec();
  }
  SQLite::Statement spb_row(db, "INSERT OR REPLACE INTO spb VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (const SpbRow& s : r.spb) {
    spb_row.reset();
    SQLite::bind(spb_row, run, s.round, s.voters, s.samples_per_coord, static_cast<std::int64_t>(s.coords),
                 s.frac_le_half, s.mean_rho, s.l1, s.rho_norm, s.rho_m_norm, s.full_loss, s.client_frac_le_half,
                 s.vote_frac_le_half, s.mean_vote_right, s.mean_vote_tie, s.abstain_frac);
    spb_row.exec();
  }
  tx.commit();
}

void print_partition(const std::vector<std::vector<std::uint32_t>>& shards, const data::Dataset& train,
                     const std::string& scheme) {
  const std::string text = data::describe_partition(shards, train.labels, train.classes);
  std::istringstream is(text);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(is, line)) lines.push_back(line);
  fmt::print("partition {} over {} clients:\n", scheme, shards.size());
  const std::size_t show = lines.size() <= 12 ? lines.size() : 5;
  for (std::size_t i = 0; i < show; ++i) fmt::print("  {}\n", lines[i]);
  if (show < lines.size()) {
    fmt::print("  ... ({} more; all in table sim_clients)\n", lines.size() - 2 * show);
    for (std::size_t i = lines.size() - show; i < lines.size(); ++i) fmt::print("  {}\n", lines[i]);
  }
  std::fflush(stdout);
}

// One worker thread: creates, drives and destroys its clients.
struct WorkerOut {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> digests;  // clients that got Bye
  std::uint32_t crashes = 0;
  std::string error;
};

void drive_clients(std::vector<edge::EdgeConfig> configs, std::vector<std::uint32_t> ids,
                   std::vector<std::uint32_t> crash_after,  // per client; 0: never
                   zmq::context_t& ctx, std::shared_ptr<const data::Dataset> train, edge::SharedReplica* shared,
                   const std::atomic<bool>& coord_done, WorkerOut& out) {
  std::atomic<bool> stop{false};
  std::unique_ptr<edge::Workbench> bench;  // this thread's, lent to its clients in turn (outlives them)
  std::vector<std::unique_ptr<edge::EdgeClient>> clients(configs.size());
  try {
    if (shared) {
      bench = std::make_unique<edge::Workbench>(*shared, edge::Shard{train, {0}});
      for (edge::EdgeConfig& e : configs) e.workbench = bench.get();
    }
    for (std::size_t i = 0; i < configs.size(); ++i) {
      clients[i] = std::make_unique<edge::EdgeClient>(configs[i], ctx, train, &stop);
      clients[i]->start();
    }
  } catch (const std::exception& e) {
    out.error = e.what();
    return;
  }
  std::vector<bool> live(clients.size(), true);
  std::size_t n_live = clients.size();
  double last_tick = 0.0, done_at = -1.0;
  std::vector<zmq::pollitem_t> items;
  std::vector<std::size_t> index;
  while (n_live > 0) {
    items.clear();
    index.clear();
    for (std::size_t i = 0; i < clients.size(); ++i)
      if (live[i]) {
        items.push_back({clients[i]->socket().handle(), 0, ZMQ_POLLIN, 0});
        index.push_back(i);
      }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(50));
    auto finish = [&](std::size_t i) {
      live[i] = false;
      --n_live;
      if (clients[i]->exit_code() == 0) out.digests.push_back({ids[i], clients[i]->digest()});
      clients[i].reset();
    };
    for (std::size_t k = 0; k < items.size(); ++k) {
      const std::size_t i = index[k];
      if (!(items[k].revents & ZMQ_POLLIN)) continue;
      if (!clients[i]->on_readable()) {
        finish(i);
        continue;
      }
      if (crash_after[i] > 0 && clients[i]->rounds_applied() >= crash_after[i]) {
        // Crash and rejoin: the client vanishes with its socket and state, and a
        // fresh instance with the same name joins again (the coordinator sends it
        // a snapshot; error-feedback memory is lost).
        crash_after[i] = 0;
        clients[i].reset();
        clients[i] = std::make_unique<edge::EdgeClient>(configs[i], ctx, train, &stop);
        clients[i]->start();
        ++out.crashes;
      }
    }
    const double t = mono_s();
    if (coord_done.load()) {
      if (done_at < 0) done_at = t;
      if (t - done_at > 3.0) stop.store(true);  // clients the Bye did not reach
    }
    if (t - last_tick > 0.2 || stop.load()) {
      last_tick = t;
      for (std::size_t i = 0; i < clients.size(); ++i)
        if (live[i] && !clients[i]->on_tick()) finish(i);
    }
  }
}

SimResult run_inprocess(const SimConfig& cfg, std::shared_ptr<const data::Dataset> train,
                        const std::vector<std::vector<std::uint32_t>>& shards,
                        const std::vector<ClientProfile>& profiles, PlanExporter* plan) {
  SimResult res;
  const double t0 = mono_s();
  zmq::context_t ctx;
  // One socket per client plus the coordinator's: above ZeroMQ's default of
  // 1023 sockets per context, clients past the 1020th could not join.
  ctx.set(zmq::ctxopt::max_sockets, static_cast<int>(std::min<std::uint64_t>(cfg.clients + 64u, 1u << 20)));
  coord::CoordinatorConfig cc = cfg.coord;
  cc.endpoint = "inproc://signfed-sim";  // inproc names are per context: one context per run
  cc.clients = cfg.clients;
  // The input statistics once, here: the coordinator sends them to the
  // clients, and the SPB probe must see the same inputs.
  // (Federated statistics come from the clients' Joins, inside the coordinator.)
  resolve_dataset_input_stats(cfg, cc);
  const data::Standardisation inputs{cc.standardise, cc.input_mean, cc.input_std};

  const std::size_t params = model::make_model(cc.model, 0)->num_params();
  const std::size_t down_bytes = downlink_model_bytes(cc.method.method, params) + kEnvelopeBytes;

  std::unique_ptr<SpbProbe> probe;
  if (cfg.spb_every > 0)
    probe = std::make_unique<SpbProbe>(cc.model, train, shards, cc.batch_size, cfg.spb_draws, cc.seed, inputs);

  std::atomic<bool> coord_done{false};
  std::promise<void> bound;
  auto bound_f = bound.get_future();
  std::exception_ptr coord_error;
  std::thread coordinator([&] {
    bool signalled = false;
    try {
      coord::Coordinator c(cc, ctx);
      // The plan trace and the SPB probe watch the rounds (coordinator/round_observer.h).
      std::optional<SpbWatch> spb;
      if (plan) c.add_observer(plan);
      if (probe) c.add_observer(&spb.emplace(*probe, res.spb, cfg.spb_every, cc.quiet));
      bound.set_value();
      signalled = true;
      res.summary = c.run();
    } catch (...) {
      coord_error = std::current_exception();
      if (!signalled) bound.set_value();
    }
    coord_done.store(true);
  });
  bound_f.wait();

  // The aggregation tree (--relays): each relay on its own thread, its
  // endpoint where its children connect. client_endpoint[c]: where client c joins.
  std::vector<std::string> client_endpoint(cfg.clients, cc.endpoint);
  std::atomic<bool> relays_done{false};
  std::mutex relay_mu;
  std::string relay_error;
  std::vector<std::thread> relay_threads;
  auto start_relay = [&](relay::RelayConfig rc) {
    relay_threads.emplace_back([&, rc] {
      try {
        relay::Relay r(rc, ctx, &relays_done);
        r.run();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(relay_mu);
        relay_error = e.what();
      }
    });
  };
  if (!cfg.relays.empty()) {
    const std::uint32_t top = cfg.relays[0], low = cfg.relays.size() > 1 ? cfg.relays[1] : 0;
    const std::uint32_t leaves_over = low > 0 ? low : top;  // the tier the clients join
    std::vector<std::uint32_t> leaf_count(leaves_over, 0), top_count(top, 0);
    for (std::uint32_t c = 0; c < cfg.clients; ++c) ++leaf_count[c % leaves_over];
    auto relay_config = [&](const std::string& name, const std::string& parent, std::uint32_t clients) {
      relay::RelayConfig rc;
      rc.parent = parent;
      rc.bind = "inproc://signfed-sim-" + name;
      rc.name = name;
      rc.clients = clients;
      rc.quiet = !cfg.verbose_clients;
      rc.heartbeat_ms = 2000;
      rc.rejoin_after_ms = 60000;
      return rc;
    };
    if (low > 0) {
      for (std::uint32_t j = 0; j < low; ++j) top_count[j % top] += leaf_count[j];
      for (std::uint32_t i = 0; i < top; ++i)
        start_relay(relay_config("relay-" + std::to_string(i), cc.endpoint, top_count[i]));
      for (std::uint32_t j = 0; j < low; ++j)
        start_relay(relay_config("relay-" + std::to_string(j % top) + "." + std::to_string(j),
                                 "inproc://signfed-sim-relay-" + std::to_string(j % top), leaf_count[j]));
      for (std::uint32_t c = 0; c < cfg.clients; ++c)
        client_endpoint[c] = "inproc://signfed-sim-relay-" + std::to_string((c % low) % top) + "." + std::to_string(c % low);
    } else {
      for (std::uint32_t i = 0; i < top; ++i)
        start_relay(relay_config("relay-" + std::to_string(i), cc.endpoint, leaf_count[i]));
      for (std::uint32_t c = 0; c < cfg.clients; ++c) client_endpoint[c] = "inproc://signfed-sim-relay-" + std::to_string(c % top);
    }
  }

  // One read-only replica for all clients (edge/shared_replica.h); the coordinator's initial model.
  std::unique_ptr<edge::SharedReplica> shared;
  if (cfg.share) shared = std::make_unique<edge::SharedReplica>(cc.model, cc.seed, cc.init);
  const std::uint32_t W = std::max<std::uint32_t>(1, std::min(cfg.workers, cfg.clients));
  std::vector<WorkerOut> outs(W);
  std::vector<std::thread> workers;
  for (std::uint32_t w = 0; w < W; ++w) {
    std::vector<edge::EdgeConfig> configs;
    std::vector<std::uint32_t> ids, crash_after;
    for (std::uint32_t c = w; c < cfg.clients; c += W) {
      edge::EdgeConfig e;
      e.endpoint = client_endpoint[c];
      e.name = "sim-" + std::to_string(c);
      e.model = cc.model;
      e.partition = cfg.partition;
      e.client_index = c;
      e.num_clients = cfg.clients;
      e.data_seed = cfg.data_seed;
      e.holdout = cfg.holdout;
      e.heartbeat_ms = 2000;
      e.rejoin_after_ms = 60000;
      e.give_up_after_ms = 3600000;
      e.quiet = !cfg.verbose_clients;
      e.shared_replica = shared.get();  // (the worker sets e.workbench)
      e.shard_rows = shards[c];         // cut once here, not once per client
      const ClientProfile prof = profiles[c];
      if (cc.virtual_time)
        e.virtual_latency_ms = [prof, down_bytes](std::uint32_t, std::size_t samples, std::size_t up) {
          return round_latency_ms(prof, samples, up + kEnvelopeBytes, down_bytes);
        };
      if (cfg.faults.dropout > 0.0) {
        const double p = cfg.faults.dropout;
        const std::uint64_t seed = cc.seed;
        e.skip_round = [p, seed, c](std::uint32_t round) { return drops_out(p, seed, c, round); };
      }
      if (plan)
        e.trace_update = [plan, c](std::uint32_t round, std::span<const float> g, const codec::SignPacket& p) {
          plan->client_update(c, round, g, p);
        };
      std::uint32_t after = 0;
      for (const auto& k : cfg.faults.crashes)
        if (k.client == c) after = std::max<std::uint32_t>(k.after_round, 1);
      configs.push_back(std::move(e));
      ids.push_back(c);
      crash_after.push_back(after);
    }
    workers.emplace_back(drive_clients, std::move(configs), std::move(ids), std::move(crash_after), std::ref(ctx),
                         train, shared.get(), std::cref(coord_done), std::ref(outs[w]));
  }
  for (auto& t : workers) t.join();
  coordinator.join();
  relays_done.store(true);
  for (auto& t : relay_threads) t.join();
  if (!relay_error.empty()) throw std::runtime_error("a relay failed: " + relay_error);
  if (coord_error) std::rethrow_exception(coord_error);
  for (const WorkerOut& o : outs) {
    if (!o.error.empty()) throw std::runtime_error("a simulated client could not start: " + o.error);
    res.crashes += o.crashes;
    for (const auto& [id, d] : o.digests) {
      ++res.clients_checked;
      res.digests_equal += d == res.summary.final_digest;
    }
  }
  res.wall_s = mono_s() - t0;
  res.peak_rss_kb = peak_rss_kb();
  return res;
}

// ---- --processes -------------------------------------------------------------


pid_t spawn(const std::string& bin, const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw std::runtime_error("cannot start " + bin + " with its log in " + log + ": " + std::strerror(rc) +
                             " (build it, or pass --bin-dir)");
  return pid;
}

std::string read_file(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

SimResult run_processes(const SimConfig& cfg, const std::vector<ClientProfile>& profiles) {
  if (cfg.coord.virtual_time || cfg.spb_every > 0 || cfg.faults.dropout > 0 || !cfg.faults.crashes.empty())
    throw std::runtime_error("--processes runs the plain binaries: --virtual-time, --spb-probe, --dropout and --crash "
                             "need the in-process simulator");
  SimResult res;
  const double t0 = mono_s();
  const auto& c = cfg.coord;
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(net::free_loopback_port());
  std::string dir = cfg.log_dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/signfed-sim-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a log directory");
    dir = tmpl;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("--log-dir " + dir + ": " + ec.message());
  }
  // The whole training configuration goes over as one file (the same JSON as
  // runs.config), so nothing the coordinator would use is left behind.
  const std::string config_path = dir + "/run.json";
  {
    std::ofstream out(config_path);
    out << coord::to_json(c).dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + config_path);
  }
  std::vector<std::string> ca = {"--config", config_path, "--endpoint", ep, "--db", c.db_path,
                                 "--progress-every", std::to_string(c.progress_every)};
  if (c.quiet) ca.push_back("--quiet");
  // Loopback only, between processes this tool started: no CurveZMQ keys.
  ca.push_back("--insecure");
  const pid_t coord_pid = spawn(cfg.coordinator_bin, ca, dir + "/coordinator.log");
  std::vector<pid_t> edges;
  for (std::uint32_t i = 0; i < cfg.clients; ++i) {
    std::vector<std::string> ea = {"--connect", ep, "--client-index", std::to_string(i), "--num-clients",
                                   std::to_string(cfg.clients), "--partition", cfg.partition, "--model", c.model,
                                   "--data-seed", std::to_string(cfg.data_seed), "--name", "sim-" + std::to_string(i)};
    if (!cfg.train_dir.empty()) ea.insert(ea.end(), {"--data", cfg.train_dir});
    if (cfg.holdout > 0.0) ea.insert(ea.end(), {"--holdout", std::to_string(cfg.holdout)});
    ea.push_back("--insecure");  // (not --quiet: the digest check reads the final line)
    // Real time: a slow client really is slower (extra compute delay per round).
    const double extra = profiles[i].ms_per_sample * c.batch_size * c.local_steps - cfg.fleet.ms_per_sample * c.batch_size * c.local_steps;
    if (profiles[i].slow && extra > 0) ea.insert(ea.end(), {"--delay-ms", std::to_string(static_cast<long>(extra))});
    edges.push_back(spawn(cfg.edge_bin, ea, dir + "/edge-" + std::to_string(i) + ".log"));
  }
  int status = 0;
  ::waitpid(coord_pid, &status, 0);
  for (pid_t p : edges) {
    int s = 0;
    ::waitpid(p, &s, 0);
  }
  const std::string clog = read_file(dir + "/coordinator.log");
  if (!c.quiet) std::fputs(clog.c_str(), stdout);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("signfed-coordinator failed; see " + dir + "/coordinator.log");
  res.summary.run_id = 0;
  // The run is the newest in the log.
  SQLite::Database db = open_sim_db(c.db_path);
  res.summary.run_id = db.execAndGet("SELECT MAX(run_id) FROM runs").getInt64();
  res.summary.status = "completed";
  res.summary.rounds_done = c.rounds;
  const std::string where = " FROM rounds WHERE run_id=" + std::to_string(res.summary.run_id);
  res.summary.uplink_bytes = static_cast<std::uint64_t>(db.execAndGet("SELECT SUM(uplink_bytes)" + where).getInt64());
  res.summary.downlink_bytes =
      static_cast<std::uint64_t>(db.execAndGet("SELECT SUM(downlink_bytes)" + where).getInt64());
  SQLite::Statement acc(db, "SELECT test_accuracy" + where + " AND test_accuracy IS NOT NULL ORDER BY round");
  while (acc.executeStep()) {
    res.summary.final_accuracy = acc.getColumn(0).getDouble();
    res.summary.best_accuracy = std::max(res.summary.best_accuracy, res.summary.final_accuracy);
  }
  for (std::uint32_t i = 0; i < cfg.clients; ++i) {
    const std::string out = read_file(dir + "/edge-" + std::to_string(i) + ".log");
    if (out.find("run over") != std::string::npos) ++res.clients_checked;
    if (out.find("matches the coordinator") != std::string::npos) ++res.digests_equal;
  }
  res.wall_s = mono_s() - t0;
  res.peak_rss_kb = peak_rss_kb(RUSAGE_CHILDREN);
  return res;
}

}  // namespace

void resolve_dataset_input_stats(const SimConfig& cfg, coord::CoordinatorConfig& cc) {
  if (cc.standardise && cc.input_stats == coord::CoordinatorConfig::InputStats::dataset &&
      !(std::isfinite(cc.input_mean) && std::isfinite(cc.input_std))) {
    const data::Standardisation st =
        data::train_pixel_statistics(cfg.train_dir.empty() ? std::string(data::kFashionMnistDir) : cfg.train_dir);
    cc.input_mean = st.mean;
    cc.input_std = st.std;
  }
}

std::shared_ptr<const data::Dataset> load_train(const SimConfig& cfg) {
  if (!cfg.train_file.path.empty()) return std::make_shared<const data::Dataset>(data::load_local_data(cfg.train_file));
  const std::string dir = cfg.train_dir.empty() ? std::string(data::kFashionMnistDir) : cfg.train_dir;
  return std::make_shared<const data::Dataset>(data::load_fashion_mnist(dir, data::Split::train));
}

void ensure_sim_tables(const std::string& db_path) { open_sim_db(db_path); }

SimResult run_sim(const SimConfig& cfg, std::shared_ptr<const data::Dataset> train) {
  if (cfg.clients == 0) throw std::invalid_argument("--clients must be at least 1");
  const data::PartitionSpec spec = data::parse_partition(cfg.partition, cfg.clients, cfg.data_seed);
  const auto shards = data::partition(train->labels, train->classes, spec);
  const bool logs = !cfg.mpi || mpi_rank() == 0;  // --mpi: rank 0 prints and logs
  if (cfg.print_partition && !cfg.coord.quiet && logs) print_partition(shards, *train, cfg.partition);
  const std::vector<ClientProfile> profiles = make_profiles(cfg.fleet, cfg.clients, cfg.coord.seed);
  std::unique_ptr<PlanExporter> plan;  // first: it creates the plan directory the log may live in
  if (!cfg.export_plan_dir.empty()) plan = std::make_unique<PlanExporter>(cfg, shards);
  if (plan && cfg.plan_only) {  // the plan of the run, for the reference alone (e.g. to choose a step size)
    plan->write_plan_only();
    SimResult r;
    r.summary.status = "planned";
    return r;
  }
  if (logs) ensure_sim_tables(cfg.coord.db_path);
  SimResult r = cfg.processes ? run_processes(cfg, profiles)
                : cfg.mpi     ? run_mpi(cfg, train, shards, profiles)
                              : run_inprocess(cfg, train, shards, profiles, plan.get());
  if (!logs) return r;
  log_result(cfg, r, shards, *train, profiles);
  if (plan && r.summary.status == "completed") plan->finish(r.summary);
  return r;
}

}  // namespace signfed::sim
