#include "coordinator/coordinator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/methods/encoder.h"
#include "core/data/rng.h"
#include "core/codec/step.h"
#include "core/replica/replay.h"
#include "core/replica/snapshot.h"
#include "core/codec/wire_packet.h"
#include "coordinator/central_test.h"
#include "coordinator/checkpoint_due.h"
#include "coordinator/client_registry.h"
#include "coordinator/progress.h"
#include "coordinator/round_state.h"
#include "coordinator/units.h"
#include "core/kernels/sign_kernels.h"
#include "net/printable.h"
#include "net/router_transport.h"
#include "schema/wire.h"

namespace signfed::coord {

namespace fb = flatbuffers;

namespace {

// The run's parameter count (a resumed run's model decides).
std::int64_t run_params(const CoordinatorConfig& cfg) {
  std::string model_spec = cfg.model;
  if (cfg.resume) {
    RoundLog log(cfg.db_path);
    if (auto r = log.find_resumable()) model_spec = nlohmann::json::parse(r->config_json).at("model").get<std::string>();
  }
  return static_cast<std::int64_t>(model::make_model(model_spec, 0)->num_params());
}

net::RouterOptions router_options(const CoordinatorConfig& cfg) {
  const std::int64_t n = run_params(cfg);
  net::RouterOptions o;
  o.endpoint = cfg.endpoint;
  // Largest legitimate inbound frame: a float32 update (4 bytes a parameter)
  // or a relay's TallyUpdate -- a mean tally (three varint limbs a parameter,
  // at most 30 bytes; honest ones about 9) and a row per leaf client below it
  // (ChildRow, at most about 256 bytes), plus framing. The input bound per
  // connection follows it (docs/security.md "Bounded memory").
  const std::int64_t update = n * 4, tally = n * 30 + std::int64_t{256} * cfg.clients;
  o.max_frame_bytes =
      std::min<std::int64_t>(static_cast<std::int64_t>(wire::kMaxFrameBytes), std::max(update, tally) + (64 << 10));
  // Per peer, queued and not yet written to its socket: a full snapshot with
  // momentum (8 bytes a parameter) and a float32 result (4), plus 2 MiB of
  // small messages -- on top of the kernel's socket buffers, which take an
  // honest reader's backlog first. See docs/security.md "Bounded memory".
  o.max_queued_bytes = (std::int64_t{2} << 20) + 12 * n;
  o.insecure = cfg.insecure;
  o.secret_key_file = cfg.curve_key_file;
  o.allowlist_file = cfg.allowlist_file;
  return o;
}

}  // namespace

Coordinator::Coordinator(CoordinatorConfig cfg, zmq::context_t& ctx, const std::atomic<bool>* stop)
    : Coordinator(cfg, std::make_unique<net::RouterTransport>(ctx, router_options(cfg)),
                  std::make_unique<net::SystemClock>(), stop) {}

Coordinator::Coordinator(CoordinatorConfig cfg, std::unique_ptr<net::Transport> transport,
                         std::unique_ptr<net::Clock> clock, const std::atomic<bool>* stop)
    : cfg_(std::move(cfg)),
      stop_(stop),
      clock_(std::move(clock)),
      transport_(std::move(transport)),
      registry_(cfg_.max_clients),
      suspicion_(cfg_.suspect_mads, cfg_.suspect_min_rounds) {
  log_ = std::make_unique<RoundLog>(cfg_.db_path);
  log_->set_max_pages(cfg_.db_max_pages);
}

Coordinator::~Coordinator() = default;

std::string Coordinator::endpoint() const { return transport_->endpoint(); }

double Coordinator::now_s() const { return clock_->now_s(); }
double Coordinator::unix_s() const { return clock_->unix_s(); }

void Coordinator::open_run() {
  std::optional<ResumePoint> resume;
  if (cfg_.resume) {
    resume = log_->find_resumable();
    if (!resume)
      fmt::print(stderr, "signfed-coordinator: --resume: no unfinished run in {}; starting a new run\n", log_->path());
  }
  if (resume) {
    const nlohmann::json stored = nlohmann::json::parse(resume->config_json);
    if (std::string err = resume_conflicts(to_json(cfg_), stored, cfg_.flags_given); !err.empty())
      throw std::invalid_argument(err);
    apply_stored_config(stored, cfg_);
  }
  model_ = model::make_model(cfg_.model, cfg_.seed, cfg_.init);
  // The pooled pixel statistics of the IDX training set fit 28x28 images only;
  // a model for the boards' own data needs its inputs' own statistics.
  if (!resume && cfg_.standardise && cfg_.input_stats == CoordinatorConfig::InputStats::dataset &&
      !(std::isfinite(cfg_.input_mean) && std::isfinite(cfg_.input_std)) && model_->input_size() != 28 * 28)
    fmt::print(stderr,
               "signfed-coordinator: warning: inputs are standardised with the pixel statistics of the IDX training "
               "set (28x28 images), but the model takes {} inputs: for the boards' own data pass --input-stats "
               "federated (per-feature statistics from the boards' moments)\n",
               model_->input_size());
  replica_ = std::make_unique<core::Replica>(model_->params(), codec::architecture_basis(model_->spec()));
  strategy_ = methods::make_strategy(cfg_.strategy_config());
  if (!cfg_.quiet) {
    progress_ = std::make_unique<ProgressPrinter>(cfg_.rounds, cfg_.progress_every, model_->num_params());
    observers_.insert(observers_.begin(), progress_.get());  // the line first, then the other observers
  }
  if (strategy_->uses_momentum()) replica_->enable_momentum();
  const std::string data_dir = cfg_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cfg_.data_dir;
  if (!resume) resolve_run_config(cfg_, model_->num_params());  // what runs.config stores is what the run uses
  inputs_ = {cfg_.standardise, cfg_.input_mean, cfg_.input_std};
  if (cfg_.standardise && !cfg_.input_mean_per_feature.empty()) {  // federated, stored (--resume, --config)
    const std::size_t f = model_->input_size();
    if (cfg_.input_mean_per_feature.size() != f || cfg_.input_std_per_feature.size() != f)
      throw std::runtime_error(fmt::format("the run's per-feature input statistics have {} features, the model {}",
                                           cfg_.input_mean_per_feature.size(), f));
    inputs_.feature_mean = cfg_.input_mean_per_feature;
    inputs_.feature_std = cfg_.input_std_per_feature;
  }
  if (resume) {
    run_id_ = resume->run_id;
    log_->mark_resumed(run_id_);
    if (resume->checkpoint.round >= 0) {
      const Checkpoint& ck = resume->checkpoint;
      if (ck.params.size() != model_->num_params() || codec::model_digest(ck.params, codec::architecture_basis(model_->spec())) != ck.digest)
        throw std::runtime_error("checkpoint of round " + std::to_string(ck.round) + " in " + log_->path() +
                                 " does not match its digest or the model; the file is damaged");
      const bool with_momentum = strategy_->uses_momentum() && ck.momentum.size() == ck.params.size();
      replica_->assign(ck.params, with_momentum ? std::span<const float>(ck.momentum) : std::span<const float>());
      if (strategy_->uses_momentum()) replica_->enable_momentum();
      checkpointed_ = true;
    }
    // The rounds logged after the checkpoint: their results, replayed as the edges applied them.
    std::size_t replayed = 0;
    try {
      replayed = core::replay_results(*replica_, resume->checkpoint.round, resume->last_round, resume->results,
                                      fmt::format("{} run {}", log_->path(), run_id_));
    } catch (const core::ReplayError& e) {
      throw core::ReplayError(fmt::format("--resume: {}; the round log is damaged (resume is refused rather than "
                                          "continuing from a wrong model)", e.what()));
    }
    first_round_ = static_cast<std::uint32_t>(resume->last_round + 1);
    next_round_ = first_round_;
    if (replayed > 0)
      fmt::print("replayed rounds {}..{} from the vote log onto the checkpoint of round {}\n",
                 resume->checkpoint.round + 1, resume->last_round, resume->checkpoint.round);
    virtual_clock_s_ = resume->virtual_time_s;
    for (const ClientRow& c : resume->clients) registry_.restore(c);
    fmt::print("resuming run {} of {} at round {}/{} ({} known clients)\n", run_id_, log_->path(), first_round_,
               cfg_.rounds, registry_.size());
  } else {
    run_id_ = log_->begin_run(to_json(cfg_).dump(), cfg_.rounds, cfg_.tag);
  }
  init_digest_ = codec::model_digest(model::make_model(cfg_.model, cfg_.seed, cfg_.init)->params(),
                                     codec::architecture_basis(model_->spec()));
  digest_ = replica_->digest();
  summary_.run_id = run_id_;
  log_->log_event(run_id_, unix_s(), std::nullopt, "transport", transport_->describe());
  if (cfg_.eval_every > 0 && cfg_.central_test) {
    data::Dataset test = load_central_test(data_dir, cfg_.test_file, cfg_.test_labels, *model_);
    if (!input_stats_pending()) inputs_.apply(test.features, test.features);  // the clients' transform, once
    test_ = std::make_shared<const data::Dataset>(std::move(test));
  }
}

RunSummary Coordinator::run() {
  open_run();
  if (!cfg_.quiet)
    fmt::print("signfed-coordinator: run {}, {} on {} ({} params), {} rounds, method {}, log {}, {}\n", run_id_,
               cfg_.endpoint, model_->spec(), model_->num_params(), cfg_.rounds, methods::method_name(cfg_.method.method),
               log_->path(), cfg_.insecure ? "PLAINTEXT transport (insecure)" : "CURVE transport, allowlisted clients only");
  std::fflush(stdout);
  wait_for_clients();
  if (!stopping()) fix_input_stats();
  summary_.status = "completed";
  summary_.rounds_done = std::min(first_round_, cfg_.rounds);  // rounds in the log
  for (std::uint32_t r = first_round_; r < cfg_.rounds; ++r) {
    if (stopping() || !play_round(r)) {
      summary_.status = "interrupted";
      break;
    }
    summary_.rounds_done = r + 1;
  }
  finish_evals();
  transport_->drain_events([this](const net::TransportEvent& e) { handle_event(e); });
  write_event_summaries(true);
  log_->end_run(run_id_, summary_.status);
  summary_.final_fed_accuracy = log_->last_fed_accuracy(run_id_).value_or(-1.0);
  if (summary_.status == "completed") broadcast_bye("run completed");
  summary_.final_digest = digest_;
  summary_.clients = static_cast<std::uint32_t>(registry_.size());
  return summary_;
}

void Coordinator::wait_for_clients() {
  const double deadline = now_s() + cfg_.join_timeout_ms / 1000.0;
  double next_note = now_s() + 5.0;
  auto live = [&] { return registry_.connected_weight(); };  // a relay counts as its clients

  while (live() < cfg_.clients) {
    if (stopping()) return;
    if (now_s() > deadline)
      throw std::runtime_error("only " + std::to_string(live()) + " of " + std::to_string(cfg_.clients) +
                               " clients joined within " + std::to_string(cfg_.join_timeout_ms / 1000) +
                               " s; start more signfed-edge processes or lower --clients");
    poll_once(200);
    if (!cfg_.quiet && now_s() > next_note) {
      fmt::print("waiting for clients: {}/{} joined\n", live(), cfg_.clients);
      std::fflush(stdout);
      next_note = now_s() + 5.0;
    }
  }
}

std::vector<std::uint32_t> Coordinator::select_participants(std::uint32_t round) {
  const std::size_t extra = cfg_.policy.kind == StragglerPolicy::Kind::overselect ? cfg_.policy.extra : 0;
  return registry_.select(round, cfg_.seed, cfg_.fraction, extra, now_s(), cfg_.dead_after_ms);
}

bool Coordinator::play_round(std::uint32_t round) {
  begin_round(round);
  // Collect until the policy's count arrived, the quorum is met, every
  // selected client answered or said Skip, or the deadline. Under virtual
  // time everyone selected is awaited (wall clock bounded by --round-timeout)
  // and the policy is applied to simulated latencies at close.
  const std::size_t selected = round_->selected().size();
  const double timeout_ms = cfg_.virtual_time ? cfg_.round_timeout_ms : round_->deadline_ms();
  const double deadline = round_->opened_at() + timeout_ms / 1000.0;
  std::size_t need = updates_needed(cfg_.policy, selected);
  if (cfg_.virtual_time) need = selected;
  else if (cfg_.min_clients > 0) need = std::min<std::size_t>(cfg_.min_clients, need);
  while (!round_->complete(need) && now_s() < deadline) {
    if (stopping()) break;
    poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
  }
  if (stopping()) {  // interrupted while collecting: the round is abandoned, not logged
    round_.reset();
    return false;
  }
  return finish_round(round);
}

void Coordinator::open_for_test() { open_run(); }

void Coordinator::begin_round_for_test(std::uint32_t round) { begin_round(round); }

void Coordinator::finish_round_for_test() {
  if (open_round()) finish_round(round_->round());
}

std::optional<std::uint32_t> Coordinator::open_round() const {
  if (round_ && round_->is_open()) return round_->round();
  return std::nullopt;
}

void Coordinator::begin_round(std::uint32_t round) {
  fix_input_stats();  // federated statistics, once the clients have joined: before any task
  const methods::TaskPlan plan = strategy_->plan(cfg_.step_at(round));
  const double deadline_ms = round_deadline_ms(cfg_.policy, latency_history_, cfg_.round_timeout_ms);
  task_sent_at_ = now_s();
  round_ = std::make_unique<RoundState>(round, select_participants(round), plan.step, task_sent_at_, deadline_ms);
  RoundRow& row = round_->row;
  row.started_at = unix_s();
  snapshot_bytes_ = 0;

  fb::FlatBufferBuilder fbb(256);
  const auto& m = cfg_.method;
  auto params = wire::CreateMethodParams(fbb, m.method, m.gamma, m.eta, m.momentum, m.tie_rule,
                                         static_cast<std::uint16_t>(cfg_.local_steps),
                                         static_cast<std::uint16_t>(cfg_.batch_size), plan.local_lr);
  auto task = wire::CreateRoundTask(fbb, round, digest_, params, plan.step, cfg_.round_timeout_ms, strategy_->confirms());
  const auto task_bytes = wire::finish_envelope(fbb, task);
  round_->task.assign(task_bytes.begin(), task_bytes.end());
  for (std::uint32_t id : round_->selected()) row.downlink_bytes += send(registry_.at(id).peer, task_bytes);
}

bool Coordinator::finish_round(std::uint32_t round) {
  RoundState::Closed closed = round_->close(cfg_.policy, cfg_.virtual_time);
  RoundRow& row = round_->row;
  const float step = round_->step();
  for (UpdateRow& late : closed.late) pending_rows_.push_back(std::move(late));
  if (cfg_.virtual_time) {
    virtual_clock_s_ += closed.simulated_ms / 1000.0;
    row.virtual_time_s = virtual_clock_s_;
  }
  latency_history_.add_round(std::move(closed.counted_latency));

  std::vector<UpdateRow> rows = std::move(pending_rows_);
  pending_rows_.clear();
  // A relay stands for its clients (its TallyUpdate's rows say what became of each).
  row.selected = registry_.weight(round_->selected());
  row.received = static_cast<std::uint32_t>(round_->updates());
  const std::size_t applied_from = aggregate_and_apply(round, step, row, rows);
  if (strategy_->confirms() && applied_from > 0) confirm_step(round, applied_from, row);
  if (stopping()) {  // interrupted (during the confirmation): not logged; --resume replays the round
    round_.reset();
    return false;
  }
  for (const UpdateRow& u : rows) {
    if (u.status == "late") ++row.late;
    if (u.status == "rejected") ++row.rejected;
  }
  for (auto& [id, r] : round_->counted()) {  // leaves whose rows are in their relay's own log
    row.late += r->logged_below.late;
    row.rejected += r->logged_below.rejected;
  }
  row.dropped = static_cast<std::uint32_t>(round_->dropped());  // from sets (round_state.h), never by subtraction
  row.snapshot_bytes = snapshot_bytes_;
  row.model_digest = digest_;
  const bool last = round + 1 == cfg_.rounds;
  if (test_ && eval_round(round)) evaluate(row);
  row.ended_at = unix_s();

  // The vote log: the result as the replicas applied it; a guarded step rolled back applied nothing.
  result_.applied = result_.applied && row.guard_kept.value_or(true);
  result_.digest = digest_;
  // A full checkpoint only every --checkpoint-every rounds, at the last round,
  // and at the run's first commit; all are kept: with the vote log between
  // them they rebuild any round (--resume, signfed-export --round).
  const std::optional<Checkpoint> ck = checkpoint_if_due(*replica_, digest_, round, last, checkpointed_, cfg_.checkpoint_every);
  const bool keep = ck.has_value();
  // Hold-out reports of earlier rounds that arrived meanwhile land with this commit.
  std::vector<EvalRow> evals = std::move(pending_evals_);
  pending_evals_.clear();
  log_->commit_round(run_id_, row, rows, &result_, ck ? &*ck : nullptr, keep, evals);
  if (ck) checkpointed_ = true;
  summary_.uplink_bytes += row.uplink_bytes;
  summary_.downlink_bytes += row.downlink_bytes;
  for (RoundObserver* o : observers_) o->round_end(row, model_->params(), last);
  round_.reset();
  next_round_ = round + 1;
  return true;
}

std::size_t Coordinator::aggregate_and_apply(std::uint32_t round, float step, RoundRow& row, std::vector<UpdateRow>& rows) {
  const std::vector<methods::Counted> counted = collect_counted(row);  // direct clients' packets
  // The relays' partial tallies, merged (tally.h: any order and grouping gives the same sums).
  std::optional<methods::Tally> relayed;
  for (auto& [id, r] : round_->counted()) {
    if (!r->tally) continue;
    if (!relayed) relayed = *r->tally;
    else methods::merge(*relayed, *r->tally);
  }
  const std::size_t voters = counted.size() + (relayed ? methods::folded(*relayed) : 0);
  row.received = static_cast<std::uint32_t>(voters);
  methods::Aggregate a;
  if (voters == 0) {
    a.result = codec::encode_ternary_best(codec::TernarySigns::zeros(static_cast<std::uint32_t>(replica_->size())));
  } else if (relayed) {
    // Tree round: the direct clients folded too, then one decision on the whole tally,
    // bit for bit the flat aggregate (tests/methods/tally_test.cc, tests/e2e/relay_test.cc).
    methods::Tally t = strategy_->empty_tally(static_cast<std::uint32_t>(replica_->size()));
    for (const methods::Counted& c : counted) strategy_->fold(t, c);
    methods::merge(t, *relayed);
    a = strategy_->aggregate(round, t, step, *replica_);
    if (methods::is_vote_method(cfg_.method.method) && !counted.empty()) {  // the direct clients' agreement
      std::vector<codec::PacketView> views;
      for (const methods::Counted& c : counted) views.push_back(c.packet);
      a.agreement = methods::agreement_with_vote(views, codec::decode_ternary(a.result.view()));
    }
    record_aggregate(round, counted, a, row);
  } else {
    a = strategy_->aggregate(round, counted, step, *replica_);
    record_aggregate(round, counted, a, row);
  }
  record_relayed_agreement(round);
  for (auto& [id, r] : round_->counted()) {
    rows.push_back(r->row);
    for (const UpdateRow& child : r->children) rows.push_back(child);
  }
  for (RoundObserver* o : observers_) o->round_result(round, a.result);
  const std::size_t applied_from = a.refused.empty() ? voters : 0;
  const std::uint64_t new_digest = replica_->digest();

  // Participants and every other live client apply the same result.
  fb::FlatBufferBuilder fbb(a.result.payload.size() + 256);
  auto pk = codec::build_packet(fbb, a.result);
  const bool evaluate = eval_round(round);
  if (evaluate) eval_asked_.insert(round);
  auto vr = wire::CreateVoteResult(fbb, round, pk, step, a.momentum, new_digest, static_cast<std::uint32_t>(voters), strategy_->confirms() && applied_from > 0,
                                   evaluate);
  const auto vr_bytes = wire::finish_envelope(fbb, vr);
  row.downlink_bytes += transport_->send_to_all(registry_.connected_peers(), vr_bytes);  // one copy for all
  digest_ = new_digest;
  // The same packet on its own for the vote log (RoundLog ResultRow); a round
  // without counted updates or a refused aggregate leaves the replica as it was.
  fb::FlatBufferBuilder pb(a.result.payload.size() + 64);
  pb.Finish(codec::build_packet(pb, a.result));
  result_.round = round;
  result_.packet.assign(pb.GetBufferPointer(), pb.GetBufferPointer() + pb.GetSize());
  result_.step = step;
  result_.momentum = a.momentum;
  result_.applied = voters > 0 && a.refused.empty();
  return applied_from;
}

std::vector<methods::Counted> Coordinator::collect_counted(RoundRow& row) {
  std::vector<methods::Counted> counted;
  double loss_sum = 0.0;
  std::size_t losses = 0;
  for (auto& [id, r] : round_->counted()) {
    row.uplink_bytes += r->row.bytes;
    if (r->tally) {  // a relay: its counted children's losses
      for (const UpdateRow& child : r->children)
        if (child.status == "counted") loss_sum += child.local_loss, ++losses;
      loss_sum += r->logged_below.loss_sum;  // rows kept in the relay's own log
      losses += r->logged_below.counted;
      continue;
    }
    counted.push_back({id, r->packet.view(), static_cast<double>(registry_.at(id).row.samples)});
    loss_sum += r->row.local_loss;
    ++losses;
  }
  if (losses > 0) row.train_loss = loss_sum / static_cast<double>(losses);
  return counted;
}

void Coordinator::record_aggregate(std::uint32_t round, std::span<const methods::Counted> counted,
                                   const methods::Aggregate& a, RoundRow& row) {
  row.coords_moved = a.coords_moved;
  row.ties = a.ties;
  row.margin_hist = a.margin_hist;
  if (!a.agreement.empty()) {  // Byzantine suspicion (vote methods)
    std::vector<std::uint32_t> ids;
    for (std::size_t i = 0; i < counted.size(); ++i) {
      ids.push_back(counted[i].client_id);
      round_->counted(ids.back()).row.agreement = a.agreement[i];
    }
    report_suspects(suspicion_.observe(ids, a.agreement));
  }
  if (a.refused.empty()) return;
  row.refused = a.refused;
  char detail[256];
  std::snprintf(detail, sizeof detail, "%s: L2 norm %.6g; step not applied, model kept, all-zero update broadcast",
                a.refused.c_str(), a.refused_norm);
  log_->log_event(run_id_, unix_s(), std::nullopt, "aggregate_refused", detail);
  std::fprintf(stderr,
               "signfed-coordinator: round %u: REFUSED the aggregate (%s, L2 norm %.3g); the model is kept. A client "
               "may be sending poisoned updates: --aggregate median or --clip C bound what one client can do\n",
               round, a.refused.c_str(), a.refused_norm);
}

void Coordinator::record_relayed_agreement(std::uint32_t round) {
  // Clients behind relays: their agreement with the previous round's vote,
  // computed by their relay (it keeps their packets), watched here as a direct client's.
  std::vector<std::uint32_t> ids;
  std::vector<double> agreement;
  for (auto& [id, r] : round_->counted())
    for (std::size_t i = 0; i < r->children.size() && i < r->child_agreement.size(); ++i)
      if (round > 0 && r->child_agreement[i].first == round - 1) {
        ids.push_back(r->children[i].client_id);
        agreement.push_back(r->child_agreement[i].second);
      }
  if (!ids.empty()) report_suspects(suspicion_.observe(ids, agreement));
}

void Coordinator::confirm_step(std::uint32_t round, std::size_t participants, RoundRow& row) {
  const std::vector<std::string> peers = registry_.connected_peers();  // those that got the VoteResult
  confirming_.emplace().round = round;
  const double deadline = now_s() + cfg_.round_timeout_ms / 1000.0;
  while (confirming_->reports.size() < participants && now_s() < deadline) {
    if (stop_ && stop_->load()) break;
    poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
  }
  Confirmation c = std::move(*confirming_);
  confirming_.reset();
  std::vector<methods::LossReport> reports;
  for (const auto& [id, r] : c.reports) reports.push_back(r);
  const bool keep_step = strategy_->confirm(reports, *replica_);
  row.guard_kept = keep_step;
  digest_ = replica_->digest();
  fb::FlatBufferBuilder g(64);
  const auto gd = wire::finish_envelope(g, wire::CreateGuardDecision(g, round, keep_step, digest_));
  for (const auto& p : peers) row.downlink_bytes += send(p, gd);
  for (const auto& p : c.snapshot_after) snapshot_bytes_ += send_snapshot(p, round + 1);
}

void Coordinator::report_suspects(const std::vector<SuspicionMonitor::Flag>& flags) {
  for (const SuspicionMonitor::Flag& f : flags) {
    log_->log_event(run_id_, unix_s(), f.client_id, "suspect_client", f.detail());
    fmt::print(stderr,
               "signfed-coordinator: SUSPECT CLIENT {} '{}': its votes disagree with the majority {:.1f}% of the "
               "time (median client {:.1f}%) after {} rounds; it may be faulty or Byzantine\n",
               f.client_id, registry_.at(f.client_id).row.name, f.mean * 100.0, f.median * 100.0, f.rounds);
  }
}

void Coordinator::evaluate(RoundRow& row) {
  const model::EvalResult e = score_central_test(*model_, *test_, cfg_.test_limit, row);
  summary_.final_accuracy = e.accuracy;
  summary_.best_accuracy = std::max(summary_.best_accuracy, e.accuracy);
}

void Coordinator::add_observer(RoundObserver* observer) { observers_.push_back(observer); }

}  // namespace signfed::coord
