#include "tools/sim/mpi_sim.h"

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <fmt/core.h>

#include "coordinator/config.h"
#include "core/methods/strategy.h"
#include "core/model/model.h"
#include "tools/sim/mpi_clients.h"
#include "tools/sim/mpi_coordinator.h"
#include "tools/sim/mpi_round.h"
#include "tools/sim/mpi_tally.h"

namespace signfed::sim {

bool mpi_built() { return true; }

MpiSession::MpiSession(int* argc, char*** argv) {
  int up = 0;
  MPI_Initialized(&up);
  if (!up) mpi_check(MPI_Init(argc, argv), "init");
  // Errors come back as codes (mpi_check throws), not as an abort inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  int down = 0;
  MPI_Finalized(&down);
  if (!down) MPI_Finalize();
}

void MpiSession::abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int mpi_rank() {
  int up = 0;
  MPI_Initialized(&up);
  if (!up) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int mpi_size() {
  int up = 0;
  MPI_Initialized(&up);
  if (!up) return 1;
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

std::string mpi_refusal(const SimConfig& cfg, const std::function<bool(std::string_view)>& given) {
  const auto& c = cfg.coord;
  if (cfg.processes) return "--mpi and --processes are two ways of running the clients: choose one";
  if (c.virtual_time) return "--mpi has no simulated clock: drop --virtual-time (every selected update counts)";
  if (c.policy.kind != coord::StragglerPolicy::Kind::all && c.policy.kind != coord::StragglerPolicy::Kind::deadline)
    return "--mpi counts every selected client's update (no wall-clock deadline across ranks): --policy all or "
           "deadline only";
  if (c.min_clients > 0) return "--mpi counts every selected client's update: drop --min-clients";
  if (cfg.faults.dropout > 0.0 || !cfg.faults.crashes.empty())
    return "--mpi does not inject faults: drop --dropout and --crash (the in-process simulator has them)";
  if (cfg.spb_every > 0) return "--mpi has no SPB probe: drop --spb-probe";
  if (!cfg.export_plan_dir.empty()) return "--mpi does not export plans: drop --export-plan";
  if (cfg.holdout > 0.0) return "--mpi has no federated evaluation: drop --holdout";
  if (c.guarded_step) return "--mpi does not run the guarded step's loss reports: drop --guarded-step";
  if (c.standardise && c.input_stats == coord::CoordinatorConfig::InputStats::federated)
    return "--mpi does not gather federated input statistics: drop --input-stats federated";
  if (c.resume) return "--mpi does not resume runs";
  if (!cfg.share || given("--no-share")) return "--mpi shares one replica per rank: drop --no-share";
  if (given("--workers"))
    return "--mpi trains each rank's clients on one thread: drop --workers and start more ranks (mpirun -np N)";
  if (!methods::make_strategy(c.strategy_config())->tallies())
    return "--aggregate median and trimmed need every packet in one place; --mpi reduces partial tallies (use "
           "--aggregate mean, or run without --mpi)";
  return "";
}

namespace {

double mono_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

template <class T>
void bcast(T& v) {
  mpi_check(MPI_Bcast(&v, sizeof v, MPI_BYTE, 0, MPI_COMM_WORLD), "bcast");
}

void bcast_bytes(std::vector<std::uint8_t>& v) {
  if (!v.empty()) mpi_check(MPI_Bcast(v.data(), static_cast<int>(v.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "bcast");
}

// Every rank's records, on rank 0 (empty elsewhere), sorted by client.
std::vector<UpdateRecord> gather_records(const std::vector<UpdateRecord>& mine, int rank, int size) {
  const int my_bytes = static_cast<int>(mine.size() * sizeof(UpdateRecord));
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  mpi_check(MPI_Gather(&my_bytes, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "gather");
  std::vector<UpdateRecord> all;
  if (rank == 0) {
    std::size_t total = 0;
    for (int r = 0; r < size; ++r) {
      displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
    }
    all.resize(total / sizeof(UpdateRecord));
  }
  mpi_check(MPI_Gatherv(mine.data(), my_bytes, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, 0,
                        MPI_COMM_WORLD),
            "gatherv");
  std::sort(all.begin(), all.end(), [](const UpdateRecord& a, const UpdateRecord& b) { return a.client < b.client; });
  return all;
}

}  // namespace

SimResult run_mpi(const SimConfig& cfg, std::shared_ptr<const data::Dataset> train,
                  const std::vector<std::vector<std::uint32_t>>& shards, const std::vector<ClientProfile>&) {
  const double t0 = mono_s();
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // The run's configuration, fixed as the in-process simulator and the
  // coordinator fix it; every rank computes the same (no I/O but the data set).
  coord::CoordinatorConfig cc = cfg.coord;
  cc.endpoint = "mpi";
  cc.clients = cfg.clients;
  resolve_dataset_input_stats(cfg, cc);
  coord::resolve_run_config(cc, model::make_model(cc.model, 0)->num_params());
  const std::unique_ptr<methods::Strategy> strategy = methods::make_strategy(cc.strategy_config());
  if (!strategy->tallies()) throw std::invalid_argument("this method's aggregate has no partial tally");

  std::optional<MpiCoordinator> zero;
  if (rank == 0) zero.emplace(cc, *strategy, shards, size);
  RankClients mine(cc, *strategy, cfg.data_seed, std::move(train), shards, rank, size);

  mpi_check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
  const double loop_t0 = mono_s();
  std::vector<std::uint8_t> chosen(cfg.clients, 0), packet;
  std::vector<UpdateRecord> recs;
  std::uint64_t final_digest = 0;
  // Rank 0's round loop by phase, s: its clients' training and applying the
  // result; the collectives (including waiting for slower ranks); the
  // coordinator's work (selection, aggregate, log commit).
  struct {
    double train = 0.0, exchange = 0.0, rank0 = 0.0;
  } phases;
  for (std::uint32_t round = 0; round < cc.rounds; ++round) {
    double t = mono_s();
    const auto lap = [&t](double& phase) {
      const double now = mono_s();
      phase += now - t;
      t = now;
    };
    struct {
      float step, local_lr;
    } task{};
    if (zero) {
      const methods::TaskPlan p = zero->begin_round(round, chosen);
      task = {p.step, p.local_lr};
    }
    lap(phases.rank0);
    bcast(task);
    bcast_bytes(chosen);
    lap(phases.exchange);
    methods::Tally tally = mine.train(round, {task.step, task.local_lr}, chosen, recs);
    lap(phases.train);
    reduce_tally(tally, 0, MPI_COMM_WORLD);
    lap(phases.exchange);
    ResultHeader h;
    if (zero) h = zero->aggregate(round, tally, task.step, packet);
    lap(phases.rank0);
    bcast(h);
    packet.resize(h.packet_bytes);
    bcast_bytes(packet);
    lap(phases.exchange);
    mine.apply(round, task.step, h, packet, recs);
    lap(phases.train);
    const std::vector<UpdateRecord> all = gather_records(recs, rank, size);
    lap(phases.exchange);
    if (zero) zero->finish_round(round, task.step, h, packet, all);
    lap(phases.rank0);
    final_digest = h.new_digest;
  }
  const double loop_s = mono_s() - loop_t0;

  // Every client's replica against the final model, and each rank's peak RSS.
  std::uint32_t checked[2] = {static_cast<std::uint32_t>(mine.size()),
                              mine.digest() == final_digest ? static_cast<std::uint32_t>(mine.size()) : 0u};
  std::uint32_t totals[2] = {0, 0};
  mpi_check(MPI_Reduce(checked, totals, 2, MPI_UINT32_T, MPI_SUM, 0, MPI_COMM_WORLD), "reduce digests");
  const long rss = peak_rss_kb();
  std::vector<long> rss_all(static_cast<std::size_t>(size));
  mpi_check(MPI_Gather(&rss, 1, MPI_LONG, rss_all.data(), 1, MPI_LONG, 0, MPI_COMM_WORLD), "gather rss");

  SimResult res;
  if (!zero) {
    res.summary.status = "worker";
    return res;
  }
  res.summary = zero->end();
  res.clients_checked = totals[0];
  res.digests_equal = totals[1];
  res.wall_s = mono_s() - t0;
  res.peak_rss_kb = *std::max_element(rss_all.begin(), rss_all.end());
  std::string per_rank;
  for (long k : rss_all) per_rank += fmt::format("{}{:.0f}", per_rank.empty() ? "" : " ", k / 1024.0);
  // One line for tools/bench/sim_mpi.sh (docs/simulation.md).
  fmt::print("mpi: {} ranks, {} clients, {} rounds in {:.3f} s: {:.4f} rounds/s (rank 0: training {:.3f} s, "
             "collectives {:.3f} s, coordinator and log {:.3f} s); peak RSS per rank (MB): {}\n",
             size, cfg.clients, cc.rounds, loop_s, cc.rounds / loop_s, phases.train, phases.exchange, phases.rank0,
             per_rank);
  std::fflush(stdout);
  return res;
}

}  // namespace signfed::sim
