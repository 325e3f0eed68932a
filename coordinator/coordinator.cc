#include "coordinator/coordinator.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "core/codec/compress.h"
#include "core/data/rng.h"
#include "core/codec/step.h"
#include "core/replica/snapshot.h"
#include "core/codec/wire_packet.h"
#include "coordinator/client_registry.h"
#include "coordinator/round_state.h"
#include "coordinator/strategy/strategy.h"
#include "coordinator/units.h"
#include "core/kernels/sign_kernels.h"
#include "net/printable.h"
#include "net/router_transport.h"
#include "schema/wire.h"

namespace signfed::coord {

namespace fb = flatbuffers;
using wire::Body;
using wire::ErrorCode;


namespace {


constexpr std::uint32_t kMaxRejectRowsPerRound = 8;   // per client; more are counted, not logged
constexpr double kJoinMinInterval = 1.0;              // s between Joins of one name (more are dropped)
constexpr double kSnapshotMinInterval = 1.0;          // s between snapshots to one client

}  // namespace

namespace {

// Largest legitimate inbound frame: a float32 update (4 bytes a parameter) plus framing.
std::int64_t max_frame_bytes(const CoordinatorConfig& cfg) {
  std::string model_spec = cfg.model;
  if (cfg.resume) {  // a resumed run's model decides
    RoundLog log(cfg.db_path);
    if (auto r = log.find_resumable()) model_spec = nlohmann::json::parse(r->config_json).at("model").get<std::string>();
  }
  return std::min<std::int64_t>(static_cast<std::int64_t>(wire::kMaxFrameBytes),
                                static_cast<std::int64_t>(model::make_model(model_spec, 0)->num_params()) * 4 + (64 << 10));
}

net::RouterOptions router_options(const CoordinatorConfig& cfg) {
  net::RouterOptions o;
  o.endpoint = cfg.endpoint;
  o.max_frame_bytes = max_frame_bytes(cfg);
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
    if (!resume) std::fprintf(stderr, "signfed-coordinator: --resume: no unfinished run in %s; starting a new run\n",
                              cfg_.db_path.c_str());
  }
  if (resume) apply_stored_config(nlohmann::json::parse(resume->config_json), cfg_);
  model_ = model::make_model(cfg_.model, cfg_.seed, cfg_.init);
  replica_ = std::make_unique<core::Replica>(model_->params());
  strategy_ = make_strategy(cfg_);
  if (strategy_->uses_momentum()) replica_->enable_momentum();
  const std::string data_dir = cfg_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cfg_.data_dir;
  if (!resume) resolve_run_config(cfg_, model_->num_params());  // what runs.config stores is what the run uses
  inputs_ = {cfg_.standardise, cfg_.input_mean, cfg_.input_std};
  if (resume) {
    run_id_ = resume->run_id;
    log_->mark_resumed(run_id_);
    if (resume->checkpoint.round >= 0) {
      const Checkpoint& ck = resume->checkpoint;
      if (ck.params.size() != model_->num_params() || codec::model_digest(ck.params) != ck.digest)
        throw std::runtime_error("checkpoint of round " + std::to_string(ck.round) + " in " + cfg_.db_path +
                                 " does not match its digest or the model; the file is damaged");
      const bool with_momentum = strategy_->uses_momentum() && ck.momentum.size() == ck.params.size();
      replica_->assign(ck.params, with_momentum ? std::span<const float>(ck.momentum) : std::span<const float>());
      if (strategy_->uses_momentum()) replica_->enable_momentum();
      first_round_ = static_cast<std::uint32_t>(ck.round + 1);
    }
    virtual_clock_s_ = resume->virtual_time_s;
    for (const ClientRow& c : resume->clients) registry_.restore(c);
    std::printf("resuming run %" PRId64 " of %s at round %u/%u (%zu known clients)\n", run_id_, cfg_.db_path.c_str(),
                first_round_, cfg_.rounds, registry_.size());
  } else {
    run_id_ = log_->begin_run(to_json(cfg_).dump(), cfg_.rounds, cfg_.tag);
  }
  init_digest_ = codec::model_digest(model::make_model(cfg_.model, cfg_.seed, cfg_.init)->params());
  digest_ = replica_->digest();
  summary_.run_id = run_id_;
  log_->log_event(run_id_, unix_s(), std::nullopt, "transport", transport_->describe());
  if (cfg_.eval_every > 0) {
    data::Dataset test = data::load_fashion_mnist(data_dir, data::Split::test);
    inputs_.apply(test.features, test.features);  // the clients' transform, once
    test_ = std::make_shared<const data::Dataset>(std::move(test));
  }
}

RunSummary Coordinator::run() {
  open_run();
  if (!cfg_.quiet)
    std::printf("signfed-coordinator: run %" PRId64 ", %s on %s (%zu params), %u rounds, method %s, log %s, %s\n",
                run_id_, cfg_.endpoint.c_str(), model_->spec().c_str(), model_->num_params(), cfg_.rounds,
                codec::method_name(cfg_.method.method), cfg_.db_path.c_str(),
                cfg_.insecure ? "PLAINTEXT transport (insecure)" : "CURVE transport, allowlisted clients only");
  std::fflush(stdout);
  wait_for_clients();
  summary_.status = "completed";
  for (std::uint32_t r = first_round_; r < cfg_.rounds; ++r) {
    if (stop_ && stop_->load()) {
      summary_.status = "interrupted";
      break;
    }
    play_round(r);
    summary_.rounds_done = r + 1;
  }
  if (first_round_ >= cfg_.rounds) summary_.rounds_done = cfg_.rounds;
  log_->end_run(run_id_, summary_.status);
  if (summary_.status == "completed") broadcast_bye("run completed");
  summary_.final_digest = digest_;
  summary_.clients = static_cast<std::uint32_t>(registry_.size());
  return summary_;
}

void Coordinator::wait_for_clients() {
  const double deadline = now_s() + cfg_.join_timeout_ms / 1000.0;
  double next_note = now_s() + 5.0;
  auto live = [&] { return registry_.connected(); };

  while (live() < cfg_.clients) {
    if (stop_ && stop_->load()) return;
    if (now_s() > deadline)
      throw std::runtime_error("only " + std::to_string(live()) + " of " + std::to_string(cfg_.clients) +
                               " clients joined within " + std::to_string(cfg_.join_timeout_ms / 1000) +
                               " s; start more signfed-edge processes or lower --clients");
    poll_once(200);
    if (!cfg_.quiet && now_s() > next_note) {
      std::printf("waiting for clients: %u/%u joined\n", live(), cfg_.clients);
      std::fflush(stdout);
      next_note = now_s() + 5.0;
    }
  }
}

std::vector<std::uint32_t> Coordinator::select_participants(std::uint32_t round) {
  const std::size_t extra = cfg_.policy.kind == StragglerPolicy::Kind::overselect ? cfg_.policy.extra : 0;
  return registry_.select(round, cfg_.seed, cfg_.fraction, extra, now_s(), cfg_.dead_after_ms);
}

void Coordinator::play_round(std::uint32_t round) {
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
    if (stop_ && stop_->load()) break;
    poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
  }
  finish_round(round);
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
  const TaskPlan plan = strategy_->plan(round);
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
  auto task = wire::CreateRoundTask(fbb, round, digest_, params, plan.step, cfg_.round_timeout_ms, cfg_.guarded_step);
  const auto task_bytes = wire::finish_envelope(fbb, task);
  round_->task.assign(task_bytes.begin(), task_bytes.end());
  for (std::uint32_t id : round_->selected()) row.downlink_bytes += send(registry_.at(id).peer, task_bytes);
}

void Coordinator::finish_round(std::uint32_t round) {
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
  row.selected = static_cast<std::uint32_t>(round_->selected().size());
  row.received = static_cast<std::uint32_t>(round_->updates());
  aggregate_and_apply(round, step, row, rows);
  std::uint32_t late_this_round = 0;
  for (const UpdateRow& u : rows) {
    if (u.status == "late") ++row.late;
    if (u.status == "late" && u.round == round) ++late_this_round;
    if (u.status == "rejected") ++row.rejected;
  }
  row.dropped = row.selected - row.received - late_this_round;
  row.snapshot_bytes = snapshot_bytes_;
  row.model_digest = digest_;
  const bool last = round + 1 == cfg_.rounds;
  if (test_ && (last || (cfg_.eval_every > 0 && (round + 1) % cfg_.eval_every == 0))) evaluate(row);
  row.ended_at = unix_s();

  Checkpoint ck;
  ck.round = round;
  ck.digest = digest_;
  ck.params.assign(replica_->params().begin(), replica_->params().end());
  ck.momentum.assign(replica_->momentum().begin(), replica_->momentum().end());
  const bool keep = last || (cfg_.checkpoint_every > 0 && (round + 1) % cfg_.checkpoint_every == 0);
  log_->commit_round(run_id_, row, rows, ck, keep);
  summary_.uplink_bytes += row.uplink_bytes;
  summary_.downlink_bytes += row.downlink_bytes;
  print_progress(row, last);
  if (on_round_end) on_round_end(round, model_->params());
  round_.reset();
}

void Coordinator::aggregate_and_apply(std::uint32_t round, float step, RoundRow& row, std::vector<UpdateRow>& rows) {
  std::vector<Counted> counted;
  double loss_sum = 0.0;
  for (auto& [id, r] : round_->counted()) {
    counted.push_back({id, r->packet.view(), static_cast<double>(registry_.at(id).row.samples)});
    row.uplink_bytes += r->row.bytes;
    loss_sum += r->row.local_loss;
  }
  if (!counted.empty()) row.train_loss = loss_sum / static_cast<double>(counted.size());

  if (cfg_.guarded_step) replica_->save();
  codec::SignPacket result;
  float momentum_field = 0.0f;
  if (counted.empty()) {
    result = codec::encode_ternary_best(codec::TernarySigns::zeros(static_cast<std::uint32_t>(replica_->size())));
  } else {
    Aggregate a = strategy_->aggregate(round, counted, step, *replica_);
    result = std::move(a.result);
    momentum_field = a.momentum;
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
  }
  for (auto& [id, r] : round_->counted()) rows.push_back(r->row);
  if (on_round_result) on_round_result(round, result);
  const std::uint64_t new_digest = replica_->digest();

  // Participants and every other live client apply the same result.
  const std::vector<std::string> peers = registry_.connected_peers();

  fb::FlatBufferBuilder fbb(result.payload.size() + 256);
  auto pk = codec::build_packet(fbb, result);
  auto vr = wire::CreateVoteResult(fbb, round, pk, step, momentum_field, new_digest,
                                   static_cast<std::uint32_t>(counted.size()), cfg_.guarded_step && !counted.empty());
  const auto vr_bytes = wire::finish_envelope(fbb, vr);
  for (const auto& p : peers) row.downlink_bytes += send(p, vr_bytes);
  digest_ = new_digest;

  if (cfg_.guarded_step && !counted.empty()) {
    // Safaryan Alg. 1 Option 2, federated: keep the step only if the summed
    // participant loss on their fixed batches does not rise.
    guard_reports_.clear();
    collecting_guard_ = true;
    guard_round_ = round;
    const double deadline = now_s() + cfg_.round_timeout_ms / 1000.0;
    while (guard_reports_.size() < counted.size() && now_s() < deadline) {
      if (stop_ && stop_->load()) break;
      poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
    }
    collecting_guard_ = false;
    guard_round_.reset();
    double before_sum = 0.0, after_sum = 0.0;
    for (const auto& [id, l] : guard_reports_) {
      before_sum += l.first;
      after_sum += l.second;
    }
    const bool keep_step = guard_reports_.empty() || after_sum <= before_sum;
    row.guard_kept = keep_step;
    if (!keep_step) {
      replica_->roll_back();
      digest_ = replica_->digest();
    }
    fb::FlatBufferBuilder g(64);
    const auto gd = wire::finish_envelope(g, wire::CreateGuardDecision(g, round, keep_step, digest_));
    for (const auto& p : peers) row.downlink_bytes += send(p, gd);
  }
}

void Coordinator::report_suspects(const std::vector<SuspicionMonitor::Flag>& flags) {
  for (const SuspicionMonitor::Flag& f : flags) {
    log_->log_event(run_id_, unix_s(), f.client_id, "suspect_client", f.detail());
    std::fprintf(stderr,
                 "signfed-coordinator: SUSPECT CLIENT %u '%s': its votes disagree with the majority %.1f%% of the "
                 "time (median client %.1f%%) after %u rounds; it may be faulty or Byzantine\n",
                 f.client_id, registry_.at(f.client_id).row.name.c_str(), f.mean * 100.0, f.median * 100.0, f.rounds);
  }
}

void Coordinator::evaluate(RoundRow& row) {
  const std::size_t n = cfg_.test_limit > 0 ? std::min<std::size_t>(cfg_.test_limit, test_->rows) : test_->rows;
  const model::EvalResult e =
      model_->evaluate(std::span(test_->features).first(n * test_->cols), std::span(test_->labels).first(n), n);
  row.test_accuracy = e.accuracy;
  row.test_loss = e.loss;
  summary_.final_accuracy = e.accuracy;
  summary_.best_accuracy = std::max(summary_.best_accuracy, e.accuracy);
}

void Coordinator::print_progress(const RoundRow& row, bool force) {
  if (cfg_.quiet) return;
  const std::uint32_t every =
      cfg_.progress_every > 0 ? cfg_.progress_every : std::max<std::uint32_t>(1, cfg_.rounds / 20);
  if (!force && !row.test_accuracy && (row.round + 1) % every != 0) return;
  char acc[32] = "      -";
  if (row.test_accuracy) std::snprintf(acc, sizeof acc, "%6.2f%%", *row.test_accuracy * 100.0);
  char loss[32] = "     -";
  if (row.train_loss) std::snprintf(loss, sizeof loss, "%6.3f", *row.train_loss);
  std::printf("round %5u/%u  acc %s  train-loss %s  clients %u/%u late %u rej %u  up %s  down %s  moved %.1f%%  %4.0f ms\n",
              row.round + 1, cfg_.rounds, acc, loss, row.received, row.selected, row.late, row.rejected,
              human_bytes(static_cast<double>(row.uplink_bytes)).c_str(),
              human_bytes(static_cast<double>(row.downlink_bytes)).c_str(),
              100.0 * static_cast<double>(row.coords_moved) / static_cast<double>(model_->num_params()),
              (row.ended_at - row.started_at) * 1000.0);
  std::fflush(stdout);
}

bool Coordinator::poll_once(int timeout_ms) {
  return transport_->poll(
      timeout_ms, [this](const net::Inbound& m) { handle_frame(m.peer, m.bytes, m.key); },
      [this](const net::TransportEvent& e) { log_limited(e.who, std::nullopt, e.kind, e.detail); });
}

bool Coordinator::event_allowed(const std::string& who) {
  const EventBudget::Decision d = event_budget_.spend(who, now_s());
  if (d.suppressed_last_window)
    log_->log_event(run_id_, unix_s(), std::nullopt, "events_suppressed",
                    std::to_string(*d.suppressed_last_window) + " event rows from " + net::printable(who, 120) +
                        " in the last minute");
  return d.allowed;
}

void Coordinator::log_limited(const std::string& who, std::optional<std::uint32_t> client, const std::string& kind,
                              const std::string& detail) {
  if (event_allowed(who)) log_->log_event(run_id_, unix_s(), client, kind, detail);
}


void Coordinator::handle_frame(const std::string& peer, std::span<const std::uint8_t> frame, const std::string& key) {
  const wire::AlignedFrame aligned(frame);
  frame = aligned.bytes();
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  Client* c = registry_.by_peer(peer);
  if (!env) {
    if (event_allowed("peer:" + peer)) {
      log_->log_event(run_id_, unix_s(), c ? std::optional(c->row.client_id) : std::nullopt, "bad_message", why);
      reply_error(peer, ErrorCode::bad_message, why, open_round().value_or(0));
    }
    return;
  }
  if (c) c->last_seen = now_s();
  switch (env->body_type()) {
    case Body::Join:
      return on_join(peer, *env->body_as_Join(), key);
    case Body::Update:
      return on_update(peer, *env->body_as_Update(), frame.size());
    case Body::Skip:
      return on_skip(peer, *env->body_as_Skip());
    case Body::SnapshotRequest:
      return on_snapshot_request(peer, *env->body_as_SnapshotRequest());
    case Body::GuardReport:
      return on_guard_report(peer, *env->body_as_GuardReport());
    case Body::Heartbeat: {
      if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", 0);
      // Echo: clients use our silence to detect a restarted coordinator.
      fb::FlatBufferBuilder fbb(64);
      send(peer, wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, c->row.client_id, open_round().value_or(0), 0)));
      return;
    }
    case Body::Error: {
      if (!c) return;  // errors from strangers are not worth a row
      const auto* e = env->body_as_Error();
      const std::string text = net::printable(e->text() ? e->text()->string_view() : std::string_view(), 512);
      // A selected client that cannot compute this round's update (e.g. its
      // gradient is NaN after a divergent step) will not send one: the round
      // need not wait for its deadline, as after a Skip.
      const std::uint32_t id = c->row.client_id;
      if (open_round() == e->round() && round_->skip(id)) {
        UpdateRow row;
        row.round = e->round();
        row.client_id = id;
        row.status = "skipped";
        row.detail = "client error: " + text.substr(0, 200);
        pending_rows_.push_back(row);
      }
      if (!event_allowed("peer:" + peer)) return;
      log_->log_event(run_id_, unix_s(), c->row.client_id, "client_error", text);
      if (!cfg_.quiet) std::printf("client %s reports: %s\n", c->row.name.c_str(), text.c_str());
      return;
    }
    default:
      reply_error(peer, ErrorCode::bad_message,
                  std::string("clients may not send ") + wire::body_name(env->body_type()), 0);
      return;
  }
}

void Coordinator::on_join(const std::string& peer, const wire::Join& m, const std::string& key) {
  if (m.protocol_version() != wire::kProtocolVersion) {
    reply_error(peer, ErrorCode::version_mismatch,
                "protocol version mismatch: client speaks " + std::to_string(m.protocol_version()) +
                    ", coordinator speaks " + std::to_string(wire::kProtocolVersion) + "; install matching versions",
                0);
    return;
  }
  const std::string name = m.client_name() ? m.client_name()->str() : "";
  if (!ClientRegistry::valid_name(name)) {
    reply_error(peer, ErrorCode::bad_value, "client_name must be 1..128 characters of [A-Za-z0-9._-:@+#/]", 0);
    return;
  }
  const std::string spec = m.model_spec() ? m.model_spec()->str() : "";
  if (spec != model_->spec() || m.num_params() != model_->num_params()) {
    reply_error(peer, ErrorCode::bad_value,
                "model mismatch: client has '" + spec + "' (" + std::to_string(m.num_params()) +
                    " params), run trains '" + model_->spec() + "' (" + std::to_string(model_->num_params()) +
                    "); start the client with --model " + model_->spec(),
                0);
    return;
  }
  const double t = now_s();
  const ClientRegistry::Admission adm = registry_.admit(name, key, peer, t, kJoinMinInterval);
  switch (adm.outcome) {
    case ClientRegistry::Outcome::throttled:
      return;
    case ClientRegistry::Outcome::identity_taken:
      log_limited("peer:" + peer, adm.client->row.client_id, "identity_rejected",
                  "key " + key + " tried to join as '" + name + "', which belongs to key " + adm.client->key);
      reply_error(peer, ErrorCode::bad_value, "client name '" + name + "' belongs to another key; choose another --name", 0);
      return;
    case ClientRegistry::Outcome::full:
      log_limited("full", std::nullopt, "server_full", "refused '" + name + "': " + std::to_string(cfg_.max_clients) + " clients");
      reply_error(peer, ErrorCode::server_full,
                  "coordinator full: " + std::to_string(cfg_.max_clients) + " clients already joined this run", 0);
      return;
    case ClientRegistry::Outcome::admitted:
      break;
  }
  Client& c = *adm.client;
  const std::uint32_t id = c.row.client_id;
  c.row.platform = net::printable(m.platform() ? m.platform()->string_view() : std::string_view(), 64);
  c.row.arch = net::printable(m.arch() ? m.arch()->string_view() : std::string_view(), 64);
  c.row.samples = m.samples();
  c.row.data_desc = net::printable(m.data_desc() ? m.data_desc()->string_view() : std::string_view(), 256);
  log_->upsert_client(run_id_, c.row, unix_s());

  fb::FlatBufferBuilder fbb(256);
  auto w = wire::CreateWelcome(fbb, wire::kProtocolVersion, id, fbb.CreateString(std::to_string(run_id_)),
                               fbb.CreateString(model_->spec()), model_->num_params(), cfg_.seed, inputs_.enabled,
                               inputs_.mean, inputs_.std,
                               cfg_.init == model::Init::torch ? wire::Init::torch : wire::Init::he);
  send(peer, wire::finish_envelope(fbb, w));
  // A joiner rebuilds the seeded initial model from Welcome.seed; a snapshot
  // is only needed once the model has moved (1000 joins must not cost 1000
  // snapshots). Clients that find a different digest in their task ask for one.
  if (digest_ != init_digest_) {
    snapshot_bytes_ += send_snapshot(peer, open_round().value_or(0));
    c.last_snapshot = t;
  }
  // A selected client that reconnects while its round is open (it crashed, or
  // its task went to the old connection) gets the task again instead of
  // leaving the round to wait for its deadline.
  if (open_round() && round_->is_selected(id) && !round_->answered(id))
    round_->row.downlink_bytes += send(peer, round_->task);
  if (!cfg_.quiet)
    std::printf("client %u '%s' joined (%s/%s, %" PRIu64 " samples, %s)\n", id, name.c_str(), c.row.platform.c_str(),
                c.row.arch.c_str(), c.row.samples, c.row.data_desc.c_str());
  std::fflush(stdout);
}

void Coordinator::on_update(const std::string& peer, const wire::Update& m, std::size_t frame_bytes) {
  Client* c = registry_.by_peer(peer);
  if (!c) {
    reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
    return;
  }
  UpdateRow row;
  row.round = m.round();
  row.client_id = c->row.client_id;
  row.bytes = frame_bytes;
  row.latency_ms = (now_s() - task_sent_at_) * 1000.0;
  row.local_loss = std::isfinite(m.local_loss()) ? m.local_loss() : 0.0;
  row.samples = std::min<std::uint32_t>(m.samples(), 1u << 24);
  auto reject = [&](ErrorCode code, const std::string& why, const char* status) {
    // A client replaying or flooding gets a bounded number of rows and replies per round.
    const std::uint32_t r = open_round().value_or(0);
    if (c->reject_round != r) c->reject_round = r, c->rejects = 0;
    if (++c->rejects > kMaxRejectRowsPerRound) return;
    row.status = status;
    row.detail = why;
    pending_rows_.push_back(row);
    reply_error(peer, code, why, m.round());
  };
  if (m.client_id() != c->row.client_id)
    return reject(ErrorCode::bad_message,
                  "update claims client " + std::to_string(m.client_id()) + " but comes from client " +
                      std::to_string(c->row.client_id),
                  "rejected");
  if (const auto open = open_round(); !open || m.round() != *open) {
    const bool late = open ? m.round() < *open : true;
    return reject(ErrorCode::wrong_round,
                  "update for round " + std::to_string(m.round()) +
                      (open ? "; the open round is " + std::to_string(*open) : "; no round is open"),
                  late ? "late" : "rejected");
  }
  switch (round_->refusal(c->row.client_id)) {
    case RoundState::Refusal::not_selected:
      return reject(ErrorCode::not_selected, "client not selected for round " + std::to_string(m.round()), "rejected");
    case RoundState::Refusal::duplicate:
      return reject(ErrorCode::duplicate_update, "second update for round " + std::to_string(m.round()), "rejected");
    case RoundState::Refusal::none:
      break;
  }
  if (!m.packet()) return reject(ErrorCode::bad_message, "update has no packet", "rejected");
  const codec::PacketView v = codec::view_of(*m.packet());
  if (!strategy_->accepts(v.encoding))
    return reject(ErrorCode::bad_message,
                  std::string("encoding ") + wire::EnumNameEncoding(v.encoding) + " is not what method " +
                      codec::method_name(cfg_.method.method) + " sends",
                  "rejected");
  try {
    codec::validate(v, static_cast<std::uint32_t>(model_->num_params()));
  } catch (const codec::CodecError& e) {
    const bool size = v.dim != model_->num_params();
    return reject(size ? ErrorCode::wrong_size : ErrorCode::bad_message, e.what(), "rejected");
  }
  auto r = std::make_unique<Received>();
  r->packet.encoding = v.encoding;
  r->packet.dim = v.dim;
  r->packet.nnz = v.nnz;
  r->packet.rice_k = v.rice_k;
  r->packet.scale = v.scale;
  r->packet.payload.assign(v.payload.begin(), v.payload.end());
  row.payload_bytes = v.payload.size();
  row.status = "counted";
  if (cfg_.virtual_time && m.virtual_ms() >= 0.0f && std::isfinite(m.virtual_ms())) {
    r->virtual_ms = m.virtual_ms();
    row.latency_ms = m.virtual_ms();  // simulated, as every latency of a virtual-time run
  }
  r->row = row;
  round_->count(c->row.client_id, std::move(r));
}

void Coordinator::on_snapshot_request(const std::string& peer, const wire::SnapshotRequest& m) {
  Client* c = registry_.by_peer(peer);
  if (!c) {
    reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
    return;
  }
  // A snapshot is the model's full size: one per client per second at most.
  const double t = now_s();
  if (t - c->last_snapshot < kSnapshotMinInterval) return;
  c->last_snapshot = t;
  snapshot_bytes_ += send_snapshot(peer, open_round().value_or(m.round()));
}

void Coordinator::on_skip(const std::string& peer, const wire::Skip& m) {
  Client* c = registry_.by_peer(peer);
  if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
  const std::uint32_t id = c->row.client_id;
  // Only for itself, for the open round, when selected, and before any update.
  if (m.client_id() != id || open_round() != m.round() || !round_->skip(id))
    return reply_error(peer, ErrorCode::bad_message, "Skip for a round this client cannot skip", m.round());
  UpdateRow row;
  row.round = m.round();
  row.client_id = id;
  row.status = "skipped";
  row.detail = net::printable(m.reason() ? m.reason()->string_view() : std::string_view(), 200);
  pending_rows_.push_back(row);
}

void Coordinator::on_guard_report(const std::string& peer, const wire::GuardReport& m) {
  Client* c = registry_.by_peer(peer);
  // Only a counted participant of the round being decided, once, for itself.
  if (!c || !collecting_guard_ || !round_ || !round_->has_update(c->row.client_id)) return;  // stale: ignore
  if (m.round() != guard_round_ || m.client_id() != c->row.client_id || guard_reports_.count(c->row.client_id)) return;
  if (!std::isfinite(m.loss_before()) || !std::isfinite(m.loss_after())) {
    reply_error(peer, ErrorCode::bad_value, "guard report with a non-finite loss", m.round());
    return;
  }
  guard_reports_[c->row.client_id] = {m.loss_before(), m.loss_after()};
}

std::uint64_t Coordinator::send_snapshot(const std::string& peer, std::uint32_t round) {
  return core::send_snapshot(*replica_, round, model_->spec(),
                             [&](std::span<const std::uint8_t> bytes) { return send(peer, bytes); });
}

void Coordinator::reply_error(const std::string& peer, ErrorCode code, const std::string& text, std::uint32_t round) {
  fb::FlatBufferBuilder fbb(128 + text.size());
  send(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, code, fbb.CreateString(text), round)));
}

std::size_t Coordinator::send(const std::string& peer, std::span<const std::uint8_t> bytes) {
  return transport_->send(peer, bytes);
}

void Coordinator::broadcast_bye(const std::string& reason) {
  fb::FlatBufferBuilder fbb(128);
  const auto bye = wire::finish_envelope(fbb, wire::CreateBye(fbb, fbb.CreateString(reason), digest_, cfg_.rounds));
  for (const std::string& p : registry_.connected_peers()) send(p, bye);
  // Let the goodbyes (and the last vote result) drain before the socket
  // closes; otherwise a client that is still busy waits for a Bye that never comes.
  transport_->linger_on_close(2000);
}

}  // namespace signfed::coord
