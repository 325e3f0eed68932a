#include "tools/sim/mpi_sim.h"

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "coordinator/client_registry.h"
#include "coordinator/progress.h"
#include "coordinator/round_log.h"
#include "coordinator/suspicion.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/data/rng.h"
#include "core/methods/strategy.h"
#include "core/methods/vote.h"
#include "edge/shared_replica.h"
#include "schema/wire.h"
#include "tools/sim/mpi_tally.h"

namespace signfed::sim {

namespace fb = flatbuffers;

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
double unix_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// One client of this rank: what of an EdgeClient differs between clients.
struct Slot {
  std::uint32_t index;
  edge::LocalTrainer::ClientState state;
  std::vector<float> error;  // s3gd / efsign error memory (empty until the first encode)
};

// What the log's update row needs of one counted update (sent to rank 0 as bytes).
struct UpdateRecord {
  std::uint32_t client = 0;
  std::uint32_t samples = 0;       // Update.samples: batch * local steps
  std::uint64_t bytes = 0;         // the Update envelope an EdgeClient would send
  std::uint64_t payload_bytes = 0;
  double latency_ms = 0.0;         // local work (compute and encode)
  double loss = 0.0;
  double agreement = std::numeric_limits<double>::quiet_NaN();  // vote methods
};
static_assert(std::is_trivially_copyable_v<UpdateRecord>);

// What rank 0 broadcasts after aggregating (then the result packet's bytes).
struct ResultHeader {
  std::uint64_t packet_bytes = 0;
  std::uint64_t new_digest = 0;
  std::uint32_t voters = 0;
  float momentum = 0.0f;
};
static_assert(std::is_trivially_copyable_v<ResultHeader>);

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

// Rank 0's half: the coordinator's state and the log, as coordinator.cc keeps them.
class Rank0 {
 public:
  Rank0(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy,
        const std::vector<std::vector<std::uint32_t>>& shards, int ranks)
      : cc_(cc),
        strategy_(strategy),
        log_(cc.db_path),
        registry_(cc.max_clients),
        suspicion_(cc.suspect_mads, cc.suspect_min_rounds) {
    log_.set_max_pages(cc.db_max_pages);
    model_ = model::make_model(cc.model, cc.seed, cc.init);
    replica_ = std::make_unique<core::Replica>(model_->params(), codec::architecture_basis(model_->spec()));
    if (!cc.quiet) {
      progress_ = std::make_unique<coord::ProgressPrinter>(cc.rounds, cc.progress_every, model_->num_params());
    }
    if (strategy.uses_momentum()) replica_->enable_momentum();
    run_id_ = log_.begin_run(coord::to_json(cc).dump(), cc.rounds, cc.tag);
    digest_ = replica_->digest();
    summary_.run_id = run_id_;
    log_.log_event(run_id_, unix_s(), std::nullopt, "transport",
                   fmt::format("MPI: {} ranks (signfed-sim --mpi; tallies reduced, no sockets)", ranks));
    if (cc.eval_every > 0 && cc.central_test) load_test();
    // Every client joins in index order, so its id is its index (as the name
    // order the selection draws over is the in-process simulator's).
    for (std::uint32_t c = 0; c < shards.size(); ++c) {
      const auto adm = registry_.admit("sim-" + std::to_string(c), "", "", "mpi-" + std::to_string(c), 0.0, 0.0);
      if (adm.outcome != coord::ClientRegistry::Outcome::admitted || adm.client->row.client_id != c)
        throw std::runtime_error(fmt::format("client sim-{} could not be registered as id {}", c, c));
      coord::ClientRow& row = adm.client->row;
      row.platform = "signfed-sim --mpi";
      row.arch = fmt::format("rank {}", c % static_cast<std::uint32_t>(ranks));
      row.samples = shards[c].size();
      log_.upsert_client(run_id_, row, unix_s());
    }
    if (!cc.quiet)
      fmt::print("signfed-sim --mpi: run {}, {} clients on {} ranks, {} ({} params), {} rounds, method {}, log {}\n",
                 run_id_, shards.size(), ranks, model_->spec(), model_->num_params(), cc.rounds,
                 methods::method_name(cc.method.method), cc.db_path);
    std::fflush(stdout);
  }

  // The round's task and participants (a byte per client).
  methods::TaskPlan begin_round(std::uint32_t round, std::vector<std::uint8_t>& chosen) {
    started_at_ = unix_s();
    const methods::TaskPlan plan = strategy_.plan(cc_.step_at(round));
    selected_ = registry_.select(round, cc_.seed, cc_.fraction, 0, 0.0, cc_.dead_after_ms);
    std::fill(chosen.begin(), chosen.end(), 0);
    for (std::uint32_t id : selected_) chosen[id] = 1;
    // The RoundTask each participant would receive (for the downlink bytes).
    fb::FlatBufferBuilder fbb(256);
    const auto& m = cc_.method;
    auto params = wire::CreateMethodParams(fbb, m.method, m.gamma, m.eta, m.momentum, m.tie_rule,
                                           static_cast<std::uint16_t>(cc_.local_steps),
                                           static_cast<std::uint16_t>(cc_.batch_size), plan.local_lr);
    auto task = wire::CreateRoundTask(fbb, round, digest_, params, plan.step, cc_.round_timeout_ms, false);
    task_bytes_ = wire::finish_envelope(fbb, task).size();
    return plan;
  }

  // Aggregates the reduced tally into the replica; returns the broadcast.
  ResultHeader aggregate(std::uint32_t round, const methods::Tally& tally, float step, std::vector<std::uint8_t>& packet) {
    agg_ = methods::Aggregate{};
    if (selected_.empty()) {
      agg_.result = codec::encode_ternary_best(codec::TernarySigns::zeros(static_cast<std::uint32_t>(replica_->size())));
    } else {
      agg_ = strategy_.aggregate(round, tally, step, *replica_);
    }
    fb::FlatBufferBuilder pb(agg_.result.payload.size() + 64);
    pb.Finish(codec::build_packet(pb, agg_.result));
    packet.assign(pb.GetBufferPointer(), pb.GetBufferPointer() + pb.GetSize());
    ResultHeader h;
    h.packet_bytes = packet.size();
    h.new_digest = replica_->digest();
    h.voters = static_cast<std::uint32_t>(selected_.size());
    h.momentum = agg_.momentum;
    return h;
  }

  // Logs the round (coordinator.cc finish_round with every selected update counted).
  void finish_round(std::uint32_t round, float step, const ResultHeader& h, const std::vector<std::uint8_t>& packet,
                    const std::vector<UpdateRecord>& recs) {
    coord::RoundRow row;
    row.round = round;
    row.started_at = started_at_;
    row.step_size = step;
    row.selected = static_cast<std::uint32_t>(selected_.size());
    row.received = static_cast<std::uint32_t>(recs.size());
    if (recs.size() != selected_.size())
      throw std::runtime_error(fmt::format("round {}: {} updates gathered for {} participants", round, recs.size(),
                                           selected_.size()));
    std::vector<coord::UpdateRow> rows;
    double loss_sum = 0.0;
    std::vector<std::uint32_t> ids;
    std::vector<double> agreement;
    for (const UpdateRecord& u : recs) {
      coord::UpdateRow r;
      r.round = round;
      r.client_id = u.client;
      r.bytes = u.bytes;
      r.payload_bytes = u.payload_bytes;
      r.latency_ms = u.latency_ms;
      r.local_loss = u.loss;
      r.samples = u.samples;
      r.status = "counted";
      if (!std::isnan(u.agreement)) {
        r.agreement = u.agreement;
        ids.push_back(u.client);
        agreement.push_back(u.agreement);
      }
      row.uplink_bytes += u.bytes;
      loss_sum += u.loss;
      rows.push_back(std::move(r));
    }
    if (!recs.empty()) row.train_loss = loss_sum / static_cast<double>(recs.size());
    row.downlink_bytes = task_bytes_ * selected_.size();
    if (!selected_.empty()) record_aggregate(round, ids, agreement, row);
    const bool evaluate = eval_round(round);
    {  // The VoteResult every client would receive.
      fb::FlatBufferBuilder fbb(agg_.result.payload.size() + 256);
      auto pk = codec::build_packet(fbb, agg_.result);
      auto vr = wire::CreateVoteResult(fbb, round, pk, step, agg_.momentum, h.new_digest, h.voters, false, evaluate);
      row.downlink_bytes += wire::finish_envelope(fbb, vr).size() * registry_.connected();
    }
    digest_ = h.new_digest;
    row.model_digest = digest_;
    const bool last = round + 1 == cc_.rounds;
    if (test_ && evaluate) evaluate_test(row);
    row.ended_at = unix_s();
    coord::ResultRow result;
    result.round = round;
    result.packet = packet;
    result.step = step;
    result.momentum = agg_.momentum;
    result.applied = !selected_.empty() && agg_.refused.empty();
    result.digest = digest_;
    const bool keep = last || !checkpointed_ || (cc_.checkpoint_every > 0 && (round + 1) % cc_.checkpoint_every == 0);
    std::optional<coord::Checkpoint> ck;
    if (keep) {
      ck.emplace();
      ck->round = round;
      ck->digest = digest_;
      ck->params.assign(replica_->params().begin(), replica_->params().end());
      ck->momentum.assign(replica_->momentum().begin(), replica_->momentum().end());
    }
    log_.commit_round(run_id_, row, rows, &result, ck ? &*ck : nullptr, keep, {});
    if (ck) checkpointed_ = true;
    summary_.uplink_bytes += row.uplink_bytes;
    summary_.downlink_bytes += row.downlink_bytes;
    summary_.rounds_done = round + 1;
    if (progress_) progress_->round_end(row, model_->params(), last);
  }

  coord::RunSummary end() {
    log_.end_run(run_id_, "completed");
    summary_.status = "completed";
    summary_.final_digest = digest_;
    summary_.clients = static_cast<std::uint32_t>(registry_.size());
    return summary_;
  }

 private:
  bool eval_round(std::uint32_t round) const {
    if (cc_.eval_every == 0) return false;
    return round + 1 == cc_.rounds || (round + 1) % cc_.eval_every == 0;
  }

  void load_test() {  // as Coordinator::open_run
    const std::string data_dir = cc_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cc_.data_dir;
    data::Dataset test = cc_.test_file.empty() ? data::load_fashion_mnist(data_dir, data::Split::test)
                                               : data::load_local_data({cc_.test_file, cc_.test_labels, {}});
    if (test.cols != model_->input_size() || test.classes > model_->num_classes())
      throw data::DataError(fmt::format("test set: {} features and {} classes, but the model takes {} inputs and {} "
                                        "classes",
                                        test.cols, test.classes, model_->input_size(), model_->num_classes()));
    data::widen(test);
    const data::Standardisation inputs{cc_.standardise, cc_.input_mean, cc_.input_std};
    inputs.apply(test.features, test.features);
    test_ = std::make_shared<const data::Dataset>(std::move(test));
  }

  void evaluate_test(coord::RoundRow& row) {  // as Coordinator::evaluate
    const std::size_t n = cc_.test_limit > 0 ? std::min<std::size_t>(cc_.test_limit, test_->rows) : test_->rows;
    const model::EvalResult e =
        model_->evaluate(std::span(test_->features).first(n * test_->cols), std::span(test_->labels).first(n), n);
    row.test_accuracy = e.accuracy;
    row.test_loss = e.loss;
    summary_.final_accuracy = e.accuracy;
    summary_.best_accuracy = std::max(summary_.best_accuracy, e.accuracy);
  }

  // As Coordinator::record_aggregate: statistics, Byzantine suspicion, a refused step.
  void record_aggregate(std::uint32_t round, const std::vector<std::uint32_t>& ids,
                        const std::vector<double>& agreement, coord::RoundRow& row) {
    row.coords_moved = agg_.coords_moved;
    row.ties = agg_.ties;
    row.margin_hist = agg_.margin_hist;
    if (!agreement.empty()) {
      for (const auto& f : suspicion_.observe(ids, agreement)) {
        log_.log_event(run_id_, unix_s(), f.client_id, "suspect_client", f.detail());
        fmt::print(stderr,
                   "signfed-sim --mpi: SUSPECT CLIENT {} '{}': its votes disagree with the majority {:.1f}% of the "
                   "time (median client {:.1f}%) after {} rounds; it may be faulty or Byzantine\n",
                   f.client_id, registry_.at(f.client_id).row.name, f.mean * 100.0, f.median * 100.0, f.rounds);
      }
    }
    if (agg_.refused.empty()) return;
    row.refused = agg_.refused;
    log_.log_event(run_id_, unix_s(), std::nullopt, "aggregate_refused",
                   fmt::format("{}: L2 norm {:.6g}; step not applied, model kept, all-zero update broadcast",
                               agg_.refused, agg_.refused_norm));
    fmt::print(stderr, "signfed-sim --mpi: round {}: REFUSED the aggregate ({}, L2 norm {:.3g}); the model is kept\n",
               round, agg_.refused, agg_.refused_norm);
  }

  const coord::CoordinatorConfig& cc_;
  const methods::Strategy& strategy_;
  coord::RoundLog log_;
  coord::ClientRegistry registry_;
  coord::SuspicionMonitor suspicion_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<core::Replica> replica_;  // views model_->params()
  std::unique_ptr<coord::ProgressPrinter> progress_;
  std::shared_ptr<const data::Dataset> test_;
  std::int64_t run_id_ = 0;
  std::uint64_t digest_ = 0;
  bool checkpointed_ = false;
  double started_at_ = 0.0;
  std::vector<std::uint32_t> selected_;
  std::size_t task_bytes_ = 0;
  methods::Aggregate agg_;
  coord::RunSummary summary_;
};

// This rank's clients: trains the selected ones as EdgeClient::compute_and_send
// does and folds their packets into `tally`.
class RankClients {
 public:
  RankClients(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy, std::uint64_t data_seed,
              std::shared_ptr<const data::Dataset> train, const std::vector<std::vector<std::uint32_t>>& shards,
              int rank, int size)
      : cc_(cc),
        strategy_(strategy),
        data_seed_(data_seed),
        shared_(cc.model, cc.seed, cc.init),
        bench_(shared_, edge::Shard{train, {0}}),
        inputs_{cc.standardise, cc.input_mean, cc.input_std},
        shards_(shards) {
    for (std::uint32_t c = static_cast<std::uint32_t>(rank); c < shards.size(); c += static_cast<std::uint32_t>(size)) {
      // (hold_out with share 0 keeps the shard as it is: --holdout is refused)
      slots_.push_back(Slot{c, edge::LocalTrainer::client_state(edge::Shard{train, shards[c]}, data_seed, c), {}});
    }
  }

  std::size_t size() const { return slots_.size(); }
  std::uint64_t digest() const { return shared_.digest_at(version_); }

  // Trains the chosen clients of this rank for `round`; their packets folded into the returned tally.
  methods::Tally train(std::uint32_t round, const methods::TaskPlan& plan, const std::vector<std::uint8_t>& chosen,
                       std::vector<UpdateRecord>& recs) {
    recs.clear();
    kept_.clear();
    methods::Tally tally = strategy_.empty_tally(static_cast<std::uint32_t>(shared_.num_params()));
    if (!bench_.sync(shared_, version_)) throw std::logic_error("the rank's replica moved past its clients");
    // The task's parameters as an EdgeClient reads them off the RoundTask.
    edge::LocalWork w;
    w.round = round;
    w.steps = std::max<std::uint16_t>(static_cast<std::uint16_t>(cc_.local_steps), 1);
    w.batch = std::clamp<std::uint32_t>(static_cast<std::uint16_t>(cc_.batch_size), 1, 4096);
    w.fedavg = methods::trains_locally(cc_.method.method);
    w.local_lr = plan.local_lr;
    methods::MethodConfig mc;
    mc.method = cc_.method.method;
    mc.gamma = cc_.method.gamma;
    mc.eta = cc_.method.eta;
    mc.momentum = cc_.method.momentum;
    mc.tie_rule = cc_.method.tie_rule;
    const bool vote = methods::is_vote_method(mc.method);
    const bool own_error = edge::keeps_error_memory(mc.method);
    edge::LocalTrainer& trainer = *bench_.trainer;
    for (Slot& s : slots_) {
      if (!chosen[s.index]) continue;
      const double t0 = mono_s();
      trainer.swap_client(s.state);  // the Lease
      trainer.set_inputs(inputs_);
      const double loss = trainer.compute(w);
      const std::uint64_t base_seed = data::mix_seed(data_seed_, s.index, round);
      if (own_error && s.error.empty()) s.error.assign(shared_.num_params(), 0.0f);
      if (own_error) bench_.encoder.swap_error_memory(s.error);
      try {
        bench_.encoder.encode_into(trainer.update(), mc, data::mix_seed(base_seed, 0xc0de), packet_);
      } catch (...) {
        if (own_error) bench_.encoder.swap_error_memory(s.error);
        trainer.swap_client(s.state);
        throw;
      }
      if (own_error) bench_.encoder.swap_error_memory(s.error);
      trainer.swap_client(s.state);
      const double ms = (mono_s() - t0) * 1000.0;
      strategy_.fold(tally, methods::Counted{s.index, packet_.view(), static_cast<double>(shards_[s.index].size())});
      UpdateRecord r;
      r.client = s.index;
      r.samples = w.batch * w.steps;
      r.payload_bytes = packet_.payload.size();
      r.latency_ms = ms;
      r.loss = loss;
      out_.Clear();  // the Update an EdgeClient sends, for its size on the wire
      auto wp = codec::build_packet(out_, packet_);
      r.bytes = wire::finish_envelope(out_, wire::CreateUpdate(out_, round, s.index, wp, r.samples,
                                                               static_cast<float>(loss), static_cast<float>(ms), -1.0f))
                    .size();
      recs.push_back(r);
      if (vote) kept_.push_back(packet_);  // for the agreement once the vote is known
    }
    return tally;
  }

  // Applies the round's result as EdgeClient::on_vote; vote methods: each
  // counted client's agreement with the vote into its record.
  void apply(std::uint32_t round, float step, const ResultHeader& h, const std::vector<std::uint8_t>& packet,
             std::vector<UpdateRecord>& recs) {
    fb::Verifier v(packet.data(), packet.size());
    if (!v.VerifyBuffer<wire::SignPacket>(nullptr)) throw std::runtime_error("the broadcast result does not verify");
    const codec::PacketView view = codec::view_of(*fb::GetRoot<wire::SignPacket>(packet.data()));
    if (h.voters > 0) {
      const auto to = shared_.apply(version_, round, view, step, h.momentum, false);
      if (!to) throw std::logic_error("the rank's replica could not apply the round's result");
      version_ = *to;
    }
    if (shared_.digest_at(version_) != h.new_digest)
      throw std::runtime_error(fmt::format("round {}: this rank's model digest {:016x} differs from rank 0's {:016x}",
                                           round, shared_.digest_at(version_), h.new_digest));
    if (kept_.empty() || h.voters == 0) return;
    const codec::TernarySigns signs = codec::decode_ternary(view);
    std::vector<codec::PacketView> views;
    for (const codec::SignPacket& p : kept_) views.push_back(p.view());
    const std::vector<double> a = methods::agreement_with_vote(views, signs);
    for (std::size_t i = 0; i < recs.size(); ++i) recs[i].agreement = a[i];
  }

 private:
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
  fb::FlatBufferBuilder out_{1024};
  std::vector<codec::SignPacket> kept_;
};

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
  if (cc.standardise && cc.input_stats == coord::CoordinatorConfig::InputStats::dataset &&
      !(std::isfinite(cc.input_mean) && std::isfinite(cc.input_std))) {
    const data::Standardisation st =
        data::train_pixel_statistics(cfg.train_dir.empty() ? std::string(data::kFashionMnistDir) : cfg.train_dir);
    cc.input_mean = st.mean;
    cc.input_std = st.std;
  }
  coord::resolve_run_config(cc, model::make_model(cc.model, 0)->num_params());
  const std::unique_ptr<methods::Strategy> strategy = methods::make_strategy(cc.strategy_config());
  if (!strategy->tallies()) throw std::invalid_argument("this method's aggregate has no partial tally");

  std::optional<Rank0> zero;
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
