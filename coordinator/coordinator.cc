#include "coordinator/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "codec/compress.h"
#include "data/rng.h"
#include "codec/step.h"
#include "kernels/sign_kernels.h"
#include "schema/wire.h"

namespace signfed::coord {

namespace fb = flatbuffers;
using wire::Body;
using wire::ErrorCode;

struct Coordinator::Client {
  ClientRow row;
  std::string peer;           // current ZeroMQ routing id
  double last_seen = 0.0;
  bool connected = false;     // joined since this coordinator process started
};

struct Coordinator::Received {
  codec::SignPacket packet;
  UpdateRow row;
  double virtual_ms = -1.0;
};

namespace {

double wall_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

codec::PacketView view_of(const wire::SignPacket& p) {
  codec::PacketView v;
  v.encoding = p.encoding();
  v.dim = p.dim();
  v.nnz = p.nnz();
  v.rice_k = p.rice_k();
  v.scale = p.scale();
  if (p.payload()) v.payload = {p.payload()->data(), p.payload()->size()};
  return v;
}

fb::Offset<wire::SignPacket> build_packet(fb::FlatBufferBuilder& fbb, const codec::SignPacket& p) {
  auto payload = fbb.CreateVector(p.payload);
  return wire::CreateSignPacket(fbb, p.encoding, p.dim, p.nnz, p.rice_k, p.scale, payload);
}

// Which packet encodings each method's clients must send.
bool encoding_allowed(wire::Method m, wire::Encoding e) {
  switch (m) {
    case wire::Method::signsgd:
    case wire::Method::signum:
    case wire::Method::stochsign:
    case wire::Method::efsign:
      return e == wire::Encoding::dense_sign;
    case wire::Method::s3gd:
    case wire::Method::randk:
      return e == wire::Encoding::sparse_sign;
    case wire::Method::fedsgd:
    case wire::Method::fedavg:
      return e == wire::Encoding::float32;
  }
  return false;
}

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

}  // namespace

Coordinator::Coordinator(CoordinatorConfig cfg, zmq::context_t& ctx, const std::atomic<bool>* stop)
    : cfg_(std::move(cfg)), stop_(stop), router_(ctx, zmq::socket_type::router) {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
  router_.set(zmq::sockopt::sndhwm, 100000);
  router_.set(zmq::sockopt::rcvhwm, 100000);
  try {
    router_.bind(cfg_.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + cfg_.endpoint + ": " + e.what() +
                             " (is another coordinator running? choose another port with --endpoint)");
  }
  log_ = std::make_unique<RoundLog>(cfg_.db_path);
}

Coordinator::~Coordinator() = default;

std::string Coordinator::endpoint() const { return router_.get(zmq::sockopt::last_endpoint); }

double Coordinator::now_s() const { return wall_s(); }

void Coordinator::open_run() {
  std::optional<ResumePoint> resume;
  if (cfg_.resume) {
    resume = log_->find_resumable();
    if (!resume) std::fprintf(stderr, "signfed-coordinator: --resume: no unfinished run in %s; starting a new run\n",
                              cfg_.db_path.c_str());
  }
  if (resume) apply_stored_config(nlohmann::json::parse(resume->config_json), cfg_);
  if (cfg_.method.method == wire::Method::fedavg) cfg_.step_size = 1.0f;  // clients already stepped locally
  model_ = model::make_model(cfg_.model, cfg_.seed);
  momentum_.assign(cfg_.method.method == wire::Method::signum ? model_->num_params() : 0, 0.0f);
  if (resume) {
    run_id_ = resume->run_id;
    log_->mark_resumed(run_id_);
    if (resume->checkpoint.round >= 0) {
      const Checkpoint& ck = resume->checkpoint;
      if (ck.params.size() != model_->num_params() || codec::model_digest(ck.params) != ck.digest)
        throw std::runtime_error("checkpoint of round " + std::to_string(ck.round) + " in " + cfg_.db_path +
                                 " does not match its digest or the model; the file is damaged");
      std::copy(ck.params.begin(), ck.params.end(), model_->params().begin());
      if (!momentum_.empty() && ck.momentum.size() == momentum_.size()) momentum_ = ck.momentum;
      first_round_ = static_cast<std::uint32_t>(ck.round + 1);
    }
    virtual_clock_s_ = resume->virtual_time_s;
    for (const ClientRow& c : resume->clients) {
      auto cl = std::make_unique<Client>();
      cl->row = c;
      by_name_[c.name] = c.client_id;
      clients_[c.client_id] = std::move(cl);
    }
    std::printf("resuming run %" PRId64 " of %s at round %u/%u (%zu known clients)\n", run_id_, cfg_.db_path.c_str(),
                first_round_, cfg_.rounds, clients_.size());
  } else {
    run_id_ = log_->begin_run(to_json(cfg_).dump(), cfg_.rounds, cfg_.tag);
  }
  digest_ = codec::model_digest(model_->params());
  summary_.run_id = run_id_;
  if (cfg_.eval_every > 0) {
    const std::string dir = cfg_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cfg_.data_dir;
    test_ = std::make_shared<const data::Dataset>(data::load_fashion_mnist(dir, data::Split::test));
  }
  if (cfg_.gamma_auto) {
    cfg_.method.gamma = static_cast<float>(codec::auto_gamma(cfg_.clients, model_->num_params()));
  }
}

RunSummary Coordinator::run() {
  open_run();
  if (!cfg_.quiet)
    std::printf("signfed-coordinator: run %" PRId64 ", %s on %s (%zu params), %u rounds, method %s, log %s\n",
                run_id_, cfg_.endpoint.c_str(), model_->spec().c_str(), model_->num_params(), cfg_.rounds,
                codec::method_name(cfg_.method.method), cfg_.db_path.c_str());
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
  summary_.clients = static_cast<std::uint32_t>(clients_.size());
  return summary_;
}

void Coordinator::wait_for_clients() {
  const double deadline = now_s() + cfg_.join_timeout_ms / 1000.0;
  double next_note = now_s() + 5.0;
  auto live = [&] {
    return static_cast<std::uint32_t>(std::count_if(clients_.begin(), clients_.end(),
                                                    [](const auto& kv) { return kv.second->connected; }));
  };
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
  const double t = now_s();
  std::vector<std::uint32_t> live;
  for (const auto& [id, c] : clients_)
    if (c->connected && (t - c->last_seen) * 1000.0 < cfg_.dead_after_ms) live.push_back(id);
  const std::size_t extra = cfg_.policy.kind == StragglerPolicy::Kind::overselect ? cfg_.policy.extra : 0;
  const std::size_t want = std::min(
      live.size(), std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(cfg_.fraction * live.size()))) + extra);
  if (want >= live.size() || live.empty()) return live;
  // Seeded by (seed, round): the same selection after a resume.
  data::Rng rng(data::mix_seed(cfg_.seed, round, 0x5e1ec7));
  for (std::size_t i = 0; i < want; ++i) std::swap(live[i], live[i + rng.below(live.size() - i)]);
  live.resize(want);
  std::sort(live.begin(), live.end());
  return live;
}

void Coordinator::play_round(std::uint32_t round) {
  RoundRow row;
  row.round = round;
  row.started_at = now_s();
  const float step = cfg_.step_at(round);
  row.step_size = step;

  selected_ = select_participants(round);
  received_.clear();
  open_round_ = round;
  late_ = rejected_ = 0;
  snapshot_bytes_ = 0;

  fb::FlatBufferBuilder fbb(256);
  const auto& m = cfg_.method;
  auto params = wire::CreateMethodParams(fbb, m.method, m.gamma, m.eta, m.momentum, m.tie_rule,
                                         static_cast<std::uint16_t>(cfg_.local_steps),
                                         static_cast<std::uint16_t>(cfg_.batch_size));
  auto task = wire::CreateRoundTask(fbb, round, digest_, params, step, cfg_.round_timeout_ms, cfg_.guarded_step);
  const auto task_bytes = wire::finish_envelope(fbb, task);
  task_sent_at_ = now_s();
  for (std::uint32_t id : selected_) row.downlink_bytes += send(clients_[id]->peer, task_bytes);

  // Collect until the policy's count arrived, the quorum is met, or the
  // deadline. Under virtual time everyone selected is awaited (wall clock
  // bounded by --round-timeout) and the policy is applied to simulated latencies.
  const double timeout_ms = cfg_.round_timeout_ms;
  const double deadline_ms = round_deadline_ms(cfg_.policy, latency_history_, timeout_ms);
  const double deadline = task_sent_at_ + (cfg_.virtual_time ? timeout_ms : deadline_ms) / 1000.0;
  std::size_t need = updates_needed(cfg_.policy, selected_.size());
  if (cfg_.virtual_time) need = selected_.size();
  else if (cfg_.min_clients > 0) need = std::min<std::size_t>(cfg_.min_clients, need);
  while (received_.size() < need && now_s() < deadline) {
    if (stop_ && stop_->load()) break;
    poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
  }
  open_round_.reset();

  std::vector<double> counted_latency;
  if (cfg_.virtual_time) {
    std::vector<Arrival> arrivals;
    for (const auto& [id, r] : received_) arrivals.push_back({id, r->virtual_ms >= 0 ? r->virtual_ms : r->row.latency_ms});
    const Admission adm = admit_virtual(cfg_.policy, arrivals, selected_.size(), deadline_ms);
    for (std::uint32_t id : adm.late) {
      UpdateRow late = received_[id]->row;
      late.status = "late";
      late.detail = "simulated latency beyond the " + cfg_.policy.name() + " deadline";
      pending_rows_.push_back(late);
      received_.erase(id);
    }
    for (const auto& [id, r] : received_) counted_latency.push_back(r->row.latency_ms);
    virtual_clock_s_ += adm.round_ms / 1000.0;
    row.virtual_time_s = virtual_clock_s_;
  } else {
    for (const auto& [id, r] : received_) counted_latency.push_back(r->row.latency_ms);
  }
  latency_history_.add_round(std::move(counted_latency));

  std::vector<UpdateRow> rows = std::move(pending_rows_);
  pending_rows_.clear();
  row.selected = static_cast<std::uint32_t>(selected_.size());
  row.received = static_cast<std::uint32_t>(received_.size());
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
  row.ended_at = now_s();

  Checkpoint ck;
  ck.round = round;
  ck.digest = digest_;
  ck.params.assign(model_->params().begin(), model_->params().end());
  ck.momentum = momentum_;
  const bool keep = last || (cfg_.checkpoint_every > 0 && (round + 1) % cfg_.checkpoint_every == 0);
  log_->commit_round(run_id_, row, rows, ck, keep);
  summary_.uplink_bytes += row.uplink_bytes;
  summary_.downlink_bytes += row.downlink_bytes;
  print_progress(row, last);
  if (on_round_end) on_round_end(round, model_->params());
}

void Coordinator::aggregate_and_apply(std::uint32_t round, float step, RoundRow& row, std::vector<UpdateRow>& rows) {
  const auto dim = static_cast<std::uint32_t>(model_->num_params());
  std::vector<codec::PacketView> views;
  std::vector<std::uint32_t> ids;
  double loss_sum = 0.0;
  for (auto& [id, r] : received_) {
    views.push_back(r->packet.view());
    ids.push_back(id);
    row.uplink_bytes += r->row.bytes;
    loss_sum += r->row.local_loss;
  }
  if (!views.empty()) row.train_loss = loss_sum / static_cast<double>(views.size());

  const std::vector<float> before(model_->params().begin(), model_->params().end());
  const std::vector<float> momentum_before = momentum_;
  codec::SignPacket result;
  float momentum_field = 0.0f;
  if (views.empty()) {
    result.encoding = wire::Encoding::ternary;  // nobody voted: no move
    result = codec::encode_ternary_best(codec::TernarySigns::zeros(dim));
  } else if (codec::is_vote_method(cfg_.method.method)) {
    const std::uint64_t tie_seed = data::mix_seed(cfg_.seed, round, 0x71e);
    VoteOutcome v = (cfg_.method.method == wire::Method::signsgd || cfg_.method.method == wire::Method::signum)
                        ? majority_vote_dense(views, dim, cfg_.method.tie_rule, tie_seed, kernels::best_sign_kernels())
                        : majority_vote_sparse(views, dim, cfg_.method.tie_rule, tie_seed);
    row.coords_moved = v.stats.moved;
    row.ties = v.stats.ties;
    nlohmann::json hist = nlohmann::json::array();
    for (auto h : v.stats.margin_hist) hist.push_back(h);
    row.margin_hist = hist.dump();
    const std::vector<double> agree = agreement_with_vote(views, v.signs);
    for (std::size_t i = 0; i < ids.size(); ++i) received_[ids[i]]->row.agreement = agree[i];
    if (cfg_.method.method == wire::Method::signum) {
      momentum_field = cfg_.method.momentum;
      codec::apply_momentum_step(model_->params(), momentum_, v.signs, cfg_.method.momentum, step);
    } else {
      codec::apply_sign_step(model_->params(), v.signs, step);
    }
    result = codec::encode_ternary_best(v.signs);
  } else {
    const std::vector<float> mean = mean_aggregate(views, dim);
    codec::apply_dense_step(model_->params(), mean, step);
    row.coords_moved = static_cast<std::uint64_t>(std::count_if(mean.begin(), mean.end(), [](float x) { return x != 0.0f; }));
    result = codec::encode_float32(mean);
  }
  for (auto& [id, r] : received_) rows.push_back(r->row);
  const std::uint64_t new_digest = codec::model_digest(model_->params());

  // Participants and every other live client apply the same result.
  std::vector<std::string> peers;
  for (const auto& [id, c] : clients_)
    if (c->connected) peers.push_back(c->peer);

  fb::FlatBufferBuilder fbb(result.payload.size() + 256);
  auto pk = build_packet(fbb, result);
  auto vr = wire::CreateVoteResult(fbb, round, pk, step, momentum_field, new_digest,
                                   static_cast<std::uint32_t>(views.size()), cfg_.guarded_step && !views.empty());
  const auto vr_bytes = wire::finish_envelope(fbb, vr);
  for (const auto& p : peers) row.downlink_bytes += send(p, vr_bytes);
  digest_ = new_digest;

  if (cfg_.guarded_step && !views.empty()) {
    // Safaryan Alg. 1 Option 2, federated: keep the step only if the summed
    // participant loss on their fixed batches does not rise.
    guard_reports_.clear();
    collecting_guard_ = true;
    const double deadline = now_s() + cfg_.round_timeout_ms / 1000.0;
    while (guard_reports_.size() < ids.size() && now_s() < deadline) {
      if (stop_ && stop_->load()) break;
      poll_once(static_cast<int>(std::max(1.0, (deadline - now_s()) * 1000.0)));
    }
    collecting_guard_ = false;
    double before_sum = 0.0, after_sum = 0.0;
    for (const auto& [id, l] : guard_reports_) {
      before_sum += l.first;
      after_sum += l.second;
    }
    const bool keep_step = guard_reports_.empty() || after_sum <= before_sum;
    row.guard_kept = keep_step;
    if (!keep_step) {
      std::copy(before.begin(), before.end(), model_->params().begin());
      momentum_ = momentum_before;
      digest_ = codec::model_digest(model_->params());
    }
    fb::FlatBufferBuilder g(64);
    const auto gd = wire::finish_envelope(g, wire::CreateGuardDecision(g, round, keep_step, digest_));
    for (const auto& p : peers) row.downlink_bytes += send(p, gd);
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
  zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms));
  if (!(items[0].revents & ZMQ_POLLIN)) return false;
  // Drain what is queued without blocking.
  for (int n = 0; n < 10000; ++n) {
    std::vector<zmq::message_t> parts;
    const auto got = zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) break;
    if (parts.size() != 2) {
      log_->log_event(run_id_, now_s(), std::nullopt, "bad_frame",
                      "message with " + std::to_string(parts.size()) + " frames (expected identity + 1)");
      continue;
    }
    const std::string peer = parts[0].to_string();
    handle(peer, {static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()});
  }
  return true;
}

Coordinator::Client* Coordinator::client_by_peer(const std::string& peer) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return nullptr;
  return clients_[it->second].get();
}

void Coordinator::handle(const std::string& peer, std::span<const std::uint8_t> frame) {
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  Client* c = client_by_peer(peer);
  if (!env) {
    log_->log_event(run_id_, now_s(), c ? std::optional(c->row.client_id) : std::nullopt, "bad_message", why);
    reply_error(peer, ErrorCode::bad_message, why, open_round_.value_or(0));
    return;
  }
  if (c) c->last_seen = now_s();
  switch (env->body_type()) {
    case Body::Join:
      return on_join(peer, *env->body_as_Join());
    case Body::Update:
      return on_update(peer, *env->body_as_Update(), frame.size());
    case Body::SnapshotRequest:
      return on_snapshot_request(peer, *env->body_as_SnapshotRequest());
    case Body::GuardReport:
      return on_guard_report(peer, *env->body_as_GuardReport());
    case Body::Heartbeat: {
      if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", 0);
      // Echo: clients use our silence to detect a restarted coordinator.
      fb::FlatBufferBuilder fbb(64);
      send(peer, wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, c->row.client_id, open_round_.value_or(0), 0)));
      return;
    }
    case Body::Error: {
      const auto* e = env->body_as_Error();
      log_->log_event(run_id_, now_s(), c ? std::optional(c->row.client_id) : std::nullopt, "client_error",
                      e->text() ? e->text()->str() : "");
      if (!cfg_.quiet && c)
        std::printf("client %s reports: %s\n", c->row.name.c_str(), e->text() ? e->text()->c_str() : "");
      return;
    }
    default:
      reply_error(peer, ErrorCode::bad_message,
                  std::string("clients may not send ") + wire::body_name(env->body_type()), 0);
      return;
  }
}

void Coordinator::on_join(const std::string& peer, const wire::Join& m) {
  if (m.protocol_version() != wire::kProtocolVersion) {
    reply_error(peer, ErrorCode::version_mismatch,
                "protocol version mismatch: client speaks " + std::to_string(m.protocol_version()) +
                    ", coordinator speaks " + std::to_string(wire::kProtocolVersion) + "; install matching versions",
                0);
    return;
  }
  const std::string name = m.client_name() ? m.client_name()->str() : "";
  if (name.empty() || name.size() > 128) {
    reply_error(peer, ErrorCode::bad_value, "client_name must be 1..128 bytes", 0);
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
  std::uint32_t id;
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    id = it->second;
    by_peer_.erase(clients_[id]->peer);
  } else {
    id = clients_.empty() ? 0 : clients_.rbegin()->first + 1;
    by_name_[name] = id;
    clients_[id] = std::make_unique<Client>();
  }
  Client& c = *clients_[id];
  c.row.client_id = id;
  c.row.name = name;
  c.row.platform = m.platform() ? m.platform()->str() : "";
  c.row.arch = m.arch() ? m.arch()->str() : "";
  c.row.samples = m.samples();
  c.row.data_desc = m.data_desc() ? m.data_desc()->str() : "";
  c.peer = peer;
  c.connected = true;
  c.last_seen = now_s();
  by_peer_[peer] = id;
  log_->upsert_client(run_id_, c.row, c.last_seen);

  fb::FlatBufferBuilder fbb(256);
  auto w = wire::CreateWelcome(fbb, wire::kProtocolVersion, id, fbb.CreateString(std::to_string(run_id_)),
                               fbb.CreateString(model_->spec()), model_->num_params(), cfg_.seed);
  send(peer, wire::finish_envelope(fbb, w));
  snapshot_bytes_ += send_snapshot(peer, open_round_.value_or(0));
  if (!cfg_.quiet)
    std::printf("client %u '%s' joined (%s/%s, %" PRIu64 " samples, %s)\n", id, name.c_str(), c.row.platform.c_str(),
                c.row.arch.c_str(), c.row.samples, c.row.data_desc.c_str());
  std::fflush(stdout);
}

void Coordinator::on_update(const std::string& peer, const wire::Update& m, std::size_t frame_bytes) {
  Client* c = client_by_peer(peer);
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
  row.samples = m.samples();
  auto reject = [&](ErrorCode code, const std::string& why, const char* status) {
    row.status = status;
    row.detail = why;
    if (row.status == "rejected") ++rejected_;
    pending_rows_.push_back(row);
    reply_error(peer, code, why, m.round());
  };
  if (m.client_id() != c->row.client_id)
    return reject(ErrorCode::bad_message,
                  "update claims client " + std::to_string(m.client_id()) + " but comes from client " +
                      std::to_string(c->row.client_id),
                  "rejected");
  if (!open_round_ || m.round() != *open_round_) {
    const bool late = open_round_ ? m.round() < *open_round_ : true;
    return reject(ErrorCode::wrong_round,
                  "update for round " + std::to_string(m.round()) +
                      (open_round_ ? "; the open round is " + std::to_string(*open_round_) : "; no round is open"),
                  late ? "late" : "rejected");
  }
  if (!std::binary_search(selected_.begin(), selected_.end(), c->row.client_id))
    return reject(ErrorCode::not_selected, "client not selected for round " + std::to_string(m.round()), "rejected");
  if (received_.count(c->row.client_id))
    return reject(ErrorCode::duplicate_update, "second update for round " + std::to_string(m.round()), "rejected");
  if (!m.packet()) return reject(ErrorCode::bad_message, "update has no packet", "rejected");
  const codec::PacketView v = view_of(*m.packet());
  if (!encoding_allowed(cfg_.method.method, v.encoding))
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
  received_[c->row.client_id] = std::move(r);
}

void Coordinator::on_snapshot_request(const std::string& peer, const wire::SnapshotRequest& m) {
  if (!client_by_peer(peer)) {
    reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
    return;
  }
  snapshot_bytes_ += send_snapshot(peer, open_round_.value_or(m.round()));
}

void Coordinator::on_guard_report(const std::string& peer, const wire::GuardReport& m) {
  Client* c = client_by_peer(peer);
  if (!c || !collecting_guard_ || !received_.count(c->row.client_id)) return;  // stale: ignore
  if (!std::isfinite(m.loss_before()) || !std::isfinite(m.loss_after())) {
    reply_error(peer, ErrorCode::bad_value, "guard report with a non-finite loss", m.round());
    return;
  }
  guard_reports_[c->row.client_id] = {m.loss_before(), m.loss_after()};
}

std::uint64_t Coordinator::send_snapshot(const std::string& peer, std::uint32_t round) {
  const auto params = model_->params();
  const std::uint64_t n = params.size();
  const std::uint32_t chunks = static_cast<std::uint32_t>((n + wire::kSnapshotChunkParams - 1) / wire::kSnapshotChunkParams);
  std::uint64_t bytes = 0;
  for (std::uint32_t k = 0; k < std::max<std::uint32_t>(chunks, 1); ++k) {
    const std::uint64_t off = std::uint64_t{k} * wire::kSnapshotChunkParams;
    const std::uint64_t len = std::min<std::uint64_t>(wire::kSnapshotChunkParams, n - off);
    fb::FlatBufferBuilder fbb(len * 8 + 256);
    auto pv = fbb.CreateVector(params.data() + off, len);
    fb::Offset<fb::Vector<float>> mv;
    if (!momentum_.empty()) mv = fbb.CreateVector(momentum_.data() + off, len);
    auto s = wire::CreateModelSnapshot(fbb, round, fbb.CreateString(model_->spec()), n, digest_, k,
                                       std::max<std::uint32_t>(chunks, 1), off, pv, mv);
    bytes += send(peer, wire::finish_envelope(fbb, s));
  }
  return bytes;
}

void Coordinator::reply_error(const std::string& peer, ErrorCode code, const std::string& text, std::uint32_t round) {
  fb::FlatBufferBuilder fbb(128 + text.size());
  send(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, code, fbb.CreateString(text), round)));
}

std::size_t Coordinator::send(const std::string& peer, std::span<const std::uint8_t> bytes) {
  if (peer.empty()) return 0;
  zmq::message_t id(peer.data(), peer.size());
  zmq::message_t body(bytes.data(), bytes.size());
  if (!router_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return 0;
  if (!router_.send(body, zmq::send_flags::dontwait)) return 0;
  return bytes.size();
}

void Coordinator::broadcast_bye(const std::string& reason) {
  fb::FlatBufferBuilder fbb(128);
  const auto bye = wire::finish_envelope(fbb, wire::CreateBye(fbb, fbb.CreateString(reason), digest_, cfg_.rounds));
  for (const auto& [id, c] : clients_)
    if (c->connected) send(c->peer, bye);
}

}  // namespace signfed::coord
