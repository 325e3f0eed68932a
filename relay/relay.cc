#include "relay/relay.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/codec/packet.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/methods/method.h"
#include "core/methods/vote.h"
#include "net/clock.h"
#include "net/printable.h"
#include "net/router_transport.h"
#include "schema/wire.h"

namespace signfed::relay {

namespace fb = flatbuffers;
using wire::Body;
using wire::ErrorCode;

namespace {

constexpr double kJoinMinInterval = 1.0;           // s between Joins of one child (as the coordinator)
constexpr double kSnapshotMinInterval = 1.0;       // s between snapshots to one child
constexpr std::uint32_t kMaxRejectRows = 8;        // per child per round

edge::SessionConfig session_config(const RelayConfig& c) {
  edge::SessionConfig s;
  s.endpoint = c.parent;
  s.name = c.name;
  s.heartbeat_ms = c.heartbeat_ms;
  s.rejoin_after_ms = c.rejoin_after_ms;
  s.give_up_after_ms = c.give_up_after_ms;
  s.insecure = c.insecure;
  s.curve_key_file = c.curve_key_file;
  s.server_key_file = c.parent_key_file;
  return s;
}

net::RouterOptions router_options(const RelayConfig& c) {
  net::RouterOptions o;
  o.endpoint = c.bind;
  o.max_frame_bytes = static_cast<std::int64_t>(wire::kMaxFrameBytes);
  o.insecure = c.insecure;
  o.secret_key_file = c.curve_key_file;
  o.allowlist_file = c.allowlist_file;
  return o;
}

ChildReport row_of(const coord::Client& c, wire::ChildStatus status, std::uint32_t round, const std::string& detail) {
  ChildReport r;
  r.name = c.row.name;
  r.platform = c.row.platform;
  r.arch = c.row.arch;
  r.join_samples = c.row.samples;
  r.status = status;
  r.round = round;
  r.detail = detail;
  return r;
}

// The parent's Welcome, field for field, with another client id.
std::vector<std::uint8_t> with_client_id(const wire::Welcome& w, std::uint32_t id) {
  fb::FlatBufferBuilder fbb(256);
  auto copy_vec = [&](const fb::Vector<float>* v) {
    return v && v->size() > 0 ? fbb.CreateVector(v->data(), v->size()) : fb::Offset<fb::Vector<float>>();
  };
  auto mean = copy_vec(w.input_mean_per_feature());
  auto stdv = copy_vec(w.input_std_per_feature());
  auto nw = wire::CreateWelcome(fbb, w.protocol_version(), id, fbb.CreateString(w.run_id() ? w.run_id()->str() : ""),
                                fbb.CreateString(w.model_spec() ? w.model_spec()->str() : ""), w.num_params(), w.seed(),
                                w.standardise(), w.input_mean(), w.input_std(), w.init(), mean, stdv,
                                w.input_stats_pending(), w.uniform_weighting(), w.clip());
  const auto bytes = wire::finish_envelope(fbb, nw);
  return {bytes.begin(), bytes.end()};
}

}  // namespace

// A counted child's contribution: a leaf's packet, or a lower relay's tally and rows.
struct Relay::Kept {
  codec::SignPacket packet;
  std::optional<methods::Tally> tally;
  std::vector<ChildReport> rows;  // the leaf's own row, or the lower relay's children
  coord::LeafTotals below;        // a lower relay's leaves logged in its own log
  std::uint64_t child_bytes = 0;  // Update bytes behind it (a leaf: its frame)
};

Relay::Relay(RelayConfig cfg, zmq::context_t& ctx, const std::atomic<bool>* stop)
    : cfg_(std::move(cfg)), stop_(stop), log_(cfg_.name, cfg_.quiet), registry_(cfg_.max_clients) {
  if (cfg_.clients == 0) throw std::invalid_argument("--clients must be at least 1");
  if (!(cfg_.deadline_fraction > 0.0 && cfg_.deadline_fraction < 1.0))
    throw std::invalid_argument("--deadline-fraction must be in (0, 1): a relay closes before its parent");
  children_ = std::make_unique<net::RouterTransport>(ctx, router_options(cfg_));
  parent_ = std::make_unique<edge::Session>(session_config(cfg_), ctx, log_, stop_);
  if (!cfg_.db.empty()) {  // throws LogError naming the file and what to do
    db_ = std::make_unique<coord::RoundLog>(cfg_.db);
    begin_log_run();
  }
}

void Relay::begin_log_run() {
  const nlohmann::json config = {{"role", "relay"},       {"name", cfg_.name},
                                 {"parent", cfg_.parent}, {"clients", cfg_.clients},
                                 {"bind", cfg_.bind},     {"deadline_fraction", cfg_.deadline_fraction}};
  run_id_ = db_->begin_run(config.dump(), 0, "relay " + cfg_.name);
  last_logged_.reset();
  const double now = net::system_clock().unix_s();
  for (std::uint32_t id : registry_.ids()) db_->upsert_client(run_id_, registry_.at(id).row, now);
}

Relay::~Relay() = default;

void Relay::end_log(const char* status) {
  if (!db_) return;
  try {
    db_->end_run(run_id_, status);
  } catch (const coord::LogError& e) {
    log_.error("{}", e.what());
  }
}

std::string Relay::endpoint() const { return children_->endpoint(); }

double Relay::now_s() const { return net::system_clock().now_s(); }

std::vector<std::uint8_t> Relay::join_frame() const {
  utsname u{};
  uname(&u);
  fb::FlatBufferBuilder fbb(256);
  const bool in_sync = replica_ && welcomed_;
  auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(cfg_.name), fbb.CreateString("relay"),
                            fbb.CreateString(u.machine), fbb.CreateString(""), 0, 0,
                            fbb.CreateString(fmt::format("relay for {} clients", cfg_.clients)),
                            in_sync ? replica_->digest() : 0, 0, 0, 0, 0, 0, cfg_.clients);
  const auto bytes = wire::finish_envelope(fbb, j);
  return {bytes.begin(), bytes.end()};
}

int Relay::run() {
  log_.say("{}: relay for {} clients on {}, parent {}", cfg_.name, cfg_.clients, endpoint(), cfg_.parent);
  parent_->start([this] { return join_frame(); });
  while (true) {
    // The parent's socket first (without waiting), then the children's for a few ms.
    zmq::pollitem_t items[] = {{parent_->socket().handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(0));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      items[0].revents = 0;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      std::vector<std::uint64_t> copy;
      for (const zmq::message_t& m : parent_->receive()) {
        const auto frame = wire::align_frame({static_cast<const std::uint8_t*>(m.data()), m.size()}, copy);
        try {
          if (!on_parent(frame)) {
            parent_->release();
            children_->linger_on_close(2000);
            end_log("completed");
            return 0;
          }
        } catch (const std::exception& e) {
          log_.error("fatal: {}", e.what());
          end_log("interrupted");
          return 1;
        }
      }
      parent_->release();
    }
    children_->poll(
        5, [this](const net::Inbound& m) { on_child(m.peer, m.bytes, m.key); },
        [this](const net::TransportEvent& e) { on_child_event(e); });
    try {
      tick();
    } catch (const coord::LogError& e) {  // its own log failed (disk full, locked, ...): stop, say why
      log_.error("fatal: {}", e.what());
      return 1;
    }
    if (!parent_->tick()) {
      end_log("interrupted");
      return parent_->exit_code();
    }
  }
}

void Relay::tick() {
  const double t = now_s();
  if (!pending_task_.empty() && !(snap_ && snap_->in_progress())) {
    std::string why;
    const wire::Envelope* env = wire::verify_envelope(pending_task_, &why);
    // Held for the children to join (first round) or for a snapshot: retried here.
    if (env && env->body_type() == Body::RoundTask) {
      const auto* task = env->body_as_RoundTask();
      // Only the run's first round waits for the children (a relay restarted
      // mid-run serves whoever is there: its old children failed over elsewhere).
      const bool ready = task->round() > 0 || registry_.connected_weight() >= cfg_.clients ||
                         t - pending_since_ > task->deadline_ms() / 1000.0 * cfg_.deadline_fraction / 2;
      if (ready && replica_ && replica_->digest() == task->model_digest()) {
        std::vector<std::uint8_t> frame = std::move(pending_task_);
        pending_task_.clear();
        open_round(frame, *wire::verify_envelope(frame, &why)->body_as_RoundTask());
      }
    }
  }
  if (round_ && round_->is_open() && (round_->complete(round_->selected().size()) || t >= round_deadline_))
    close_round();
  if (eval_.ready(t)) send_eval();
}

// ---- Parent side ----------------------------------------------------------

bool Relay::on_parent(std::span<const std::uint8_t> frame) {
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  if (!env) {
    log_.say("dropped a bad message from the parent: {}", why);
    return true;
  }
  switch (env->body_type()) {
    case Body::Welcome: on_welcome(*env->body_as_Welcome()); break;
    case Body::RoundTask: on_task(frame, *env->body_as_RoundTask()); break;
    case Body::VoteResult: on_vote(frame, *env->body_as_VoteResult()); break;
    case Body::ModelSnapshot: on_snapshot(*env->body_as_ModelSnapshot()); break;
    case Body::InputStats:
      for (const std::string& p : registry_.connected_peers()) send_child(p, frame);
      break;
    case Body::Error: {
      const auto* e = env->body_as_Error();
      const std::string text = net::printable(e->text() ? e->text()->string_view() : std::string_view(), 512);
      if (e->code() == ErrorCode::unknown_client) {
        parent_forgot_us_ = true;  // a restarted parent: the last tally may be lost with it
        parent_->rejoin();
      } else if ((e->code() == ErrorCode::bad_value || e->code() == ErrorCode::version_mismatch) && !welcomed_) {
        throw std::runtime_error("the parent refused this relay: " + text);
      } else {
        log_.say("parent error {}: {}", wire::EnumNameErrorCode(e->code()), text);
      }
      break;
    }
    case Body::Heartbeat: break;
    case Body::Bye: {
      for (const std::string& p : registry_.connected_peers()) send_child(p, frame);
      const auto* b = env->body_as_Bye();
      log_.say("run over after {} rounds; model digest {:016x} {}", b->rounds(), digest(),
               b->final_digest() == digest() ? "matches the parent" : "DIFFERS");
      return false;
    }
    default: log_.say("ignored unexpected {} from the parent", wire::body_name(env->body_type())); break;
  }
  return true;
}

void Relay::on_welcome(const wire::Welcome& w) {
  const std::string spec = w.model_spec() ? w.model_spec()->str() : "";
  if (w.protocol_version() != wire::kProtocolVersion || spec.empty() || w.num_params() > wire::kMaxParams) {
    log_.say("ignored a Welcome for another protocol or an unusable model");
    return;
  }
  if (model_ && spec != model_spec_) throw std::runtime_error("the parent now trains another model; restart the relay");
  if (!model_) {
    const model::Init init = w.init() == wire::Init::torch ? model::Init::torch : model::Init::he;
    model_ = model::make_model(spec, w.seed(), init);
    if (model_->num_params() != w.num_params()) throw std::runtime_error("the parent's model size differs from ours");
    const std::uint64_t basis = codec::architecture_basis(model_->spec());
    replica_ = std::make_unique<core::Replica>(model_->params(), basis);
    snap_ = std::make_unique<core::SnapshotAssembler>(model_->num_params(), basis);
    init_digest_ = replica_->digest();
    model_spec_ = spec;
    seed_ = w.seed();
  }
  uniform_weighting_ = w.uniform_weighting();
  clip_ = w.clip();
  welcome_ = with_client_id(w, 0);  // each child gets it with its own id (welcome_child)
  const bool first = !welcomed_;
  welcomed_ = true;
  parent_->welcomed(w.client_id());
  parent_id_ = w.client_id();
  if (first) log_.say("joined the parent as client {} ({} params)", w.client_id(), model_->num_params());
  // Children that knocked before the run was known.
  auto waiting = std::move(waiting_joins_);
  waiting_joins_.clear();
  for (auto& j : waiting) on_child(j.peer, j.bytes, j.key);
}

void Relay::on_task(std::span<const std::uint8_t> frame, const wire::RoundTask& t) {
  if (!replica_ || !t.params()) return;
  if (round_ && t.round() == round_->round()) {
    // The same task again: the parent re-sends it when this relay rejoins
    // (its heartbeats were late: the tally is on its way, on this connection)
    // or runs the round again (it restarted and resumed from its log: it
    // answered us unknown_client, and the tally went with the old process).
    // Open: keep collecting (a reset would lose the updates in hand).
    // Closed: the tally again, unchanged, only to a parent that forgot us.
    if (!round_->is_open() && last_closed_ == t.round() && !last_tally_.empty() && parent_forgot_us_)
      parent_->send(last_tally_);
    return;
  }
  if (round_ && round_->is_open()) close_round();  // the parent moved on: send what we have
  pending_task_.assign(frame.begin(), frame.end());
  pending_since_ = now_s();
  if (replica_->digest() != t.model_digest()) {  // out of step (a restart, a missed result): resync first
    fb::FlatBufferBuilder fbb(64);
    parent_->send(wire::finish_envelope(fbb, wire::CreateSnapshotRequest(fbb, t.round(), replica_->digest())));
  }
  tick();
}

void Relay::open_round(std::span<const std::uint8_t> task_frame, const wire::RoundTask& t) {
  const auto& mp = *t.params();
  if (!strategy_ || strategy_->method() != mp.method()) {
    methods::StrategyConfig sc;
    sc.method = {mp.method(), mp.gamma(), mp.eta(), mp.momentum(), mp.tie_rule()};
    sc.seed = seed_;
    sc.weighting = uniform_weighting_ ? methods::Weighting::uniform : methods::Weighting::samples;
    sc.aggregate.clip = clip_;
    strategy_ = methods::make_strategy(sc);
    if (!strategy_->tallies()) throw std::runtime_error("the parent's method has no partial tallies");
  }
  const double t0 = now_s();
  const double deadline_ms = t.deadline_ms() * cfg_.deadline_fraction;
  eval_wait_s_ = deadline_ms / 1000.0;
  round_ = std::make_unique<coord::RoundState>(
      t.round(), registry_.select(t.round(), seed_, 1.0, 0, t0, cfg_.dead_after_ms), t.step_size(), t0, deadline_ms);
  round_deadline_ = pending_since_ + deadline_ms / 1000.0;
  kept_.clear();
  rejects_.clear();
  round_->task.assign(task_frame.begin(), task_frame.end());
  for (std::uint32_t id : round_->selected()) send_child(registry_.at(id).peer, round_->task);
  round_started_unix_ = net::system_clock().unix_s();
  round_downlink_ = round_->task.size() * round_->selected().size();
}

void Relay::close_round() {
  round_->close(coord::StragglerPolicy{}, false);
  const std::uint32_t round = round_->round();
  const auto dim = static_cast<std::uint32_t>(replica_->size());
  methods::Tally tally = strategy_->empty_tally(dim);
  std::vector<ChildReport> rows = std::move(pending_rows_);
  pending_rows_.clear();
  coord::LeafTotals below;  // the counted lower relays' logged_below, then (--db) the rows logged here
  std::uint64_t child_bytes = 0;
  for (auto& [id, k] : kept_) {
    below += k->below;
    if (k->tally) methods::merge(tally, *k->tally);
    else strategy_->fold(tally, {id, k->packet.view(), static_cast<double>(registry_.at(id).row.samples)});
    for (ChildReport r : k->rows) {
      if (!k->tally) {  // a leaf: its agreement with the previous round's vote, computed here
        if (auto it = agreement_.find(id); it != agreement_.end())
          r.agreement_round = it->second.first, r.agreement = it->second.second;
      }
      rows.push_back(std::move(r));
    }
    child_bytes += k->child_bytes;
  }
  for (std::uint32_t id : round_->selected())
    if (!round_->answered(id)) rows.push_back(row_of(registry_.at(id), wire::ChildStatus::skipped, round, "no update before the relay's deadline"));
  rows = log_rows(round, std::move(rows), below, methods::folded(tally), child_bytes);
  const std::vector<std::uint8_t> encoded = methods::encode_tally(tally);
  fb::FlatBufferBuilder fbb(encoded.size() + 128 * rows.size() + 256);
  const auto tally_bytes = fbb.CreateVector(encoded);
  const auto child_rows = coord::build_child_rows(fbb, rows);
  const wire::LeafTotals below_wire = below.to_wire();
  // Our id at the parent: while a rejoin waits for its Welcome the session has
  // none, but the parent keeps a name's id (and knows this connection).
  const auto tu = wire::CreateTallyUpdate(fbb, round, parent_->client_id().value_or(parent_id_), tally_bytes, child_rows,
                                          child_bytes, below.rows() > 0 ? &below_wire : nullptr);
  const auto bytes = wire::finish_envelope(fbb, tu);
  parent_->send(bytes);
  last_tally_.assign(bytes.begin(), bytes.end());
  parent_forgot_us_ = false;
  uplink_.emplace_back(bytes.size(), child_bytes);
  last_closed_ = round;
  log_.say("round {}: {} of {} children counted; tally {} bytes up (children's updates: {} bytes)", round,
           methods::folded(tally), round_->selected().size(), bytes.size(), child_bytes);
}

std::vector<ChildReport> Relay::log_rows(std::uint32_t round, std::vector<ChildReport> rows, coord::LeafTotals& below,
                                        std::uint32_t folded, std::uint64_t child_bytes) {
  if (!db_) return rows;  // up to the parent, row by row
  if (last_logged_ && round <= *last_logged_) {
    // The parent runs an earlier round again (it resumed from a log that
    // lost its last commits: SQLite's synchronous=NORMAL after a power
    // loss): the rounds from here on go to a new run of this log.
    end_log("interrupted");
    begin_log_run();
    log_.say("round {}: the parent runs it again; a new run in this relay's log", round);
  }
  last_logged_ = round;
  const double now = net::system_clock().unix_s();
  coord::RoundRow rr;
  rr.round = round;
  rr.started_at = round_started_unix_;
  rr.ended_at = now;
  rr.selected = registry_.weight(round_->selected());
  rr.received = folded;
  rr.dropped = static_cast<std::uint32_t>(round_->dropped());
  rr.uplink_bytes = child_bytes;
  rr.downlink_bytes = round_downlink_;
  rr.step_size = round_->step();
  rr.model_digest = replica_->digest();  // the model the round's task was for (the vote is not in yet)
  std::vector<coord::UpdateRow> updates;
  updates.reserve(rows.size());
  for (const ChildReport& r : rows) {
    below.add(r);
    coord::UpdateRow u = coord::leaf_row(r, round);
    const std::optional<std::uint32_t> id = coord::register_leaf(registry_, r, cfg_.name, *db_, run_id_, now);
    if (!id) continue;  // the registry is full (--max-clients): the row is counted in the totals only
    u.client_id = *id;
    updates.push_back(std::move(u));
  }
  rr.late = below.late;
  rr.rejected = below.rejected;
  if (below.counted > 0) rr.train_loss = below.loss_sum / below.counted;
  db_->commit_round(run_id_, rr, updates, nullptr, nullptr, false);
  return {};  // only the totals go up
}

void Relay::on_vote(std::span<const std::uint8_t> frame, const wire::VoteResult& v) {
  for (const std::string& p : registry_.connected_peers()) send_child(p, frame);
  if (round_ && round_->is_open() && v.round() >= round_->round()) {
    // The parent decided without us (its deadline came first): a tally now
    // would only be refused as late. The children's updates are dropped.
    log_.say("round {}: the parent closed the round before this relay did; {} updates not counted", round_->round(),
             kept_.size());
    round_->close(coord::StragglerPolicy{}, false);
    kept_.clear();  // (rows of rejected frames stay for the next TallyUpdate)
  }
  if (!replica_ || !v.packet()) return;
  const codec::PacketView result = codec::view_of(*v.packet());
  try {
    replica_->apply(result, v.step_size(), v.momentum());
  } catch (const codec::CodecError& e) {
    log_.say("round {}: could not apply the parent's result ({}); resyncing at the next task", v.round(), e.what());
    return;
  }
  if (replica_->digest() != v.new_digest())
    log_.say("round {}: our replica differs from the parent's; resyncing at the next task", v.round());
  // Each kept leaf packet's agreement with the vote (vote methods): the
  // relay's suspicion watch, and up with the next round's rows.
  if (strategy_ && methods::is_vote_method(strategy_->method()) && v.round() == last_closed_) {
    std::vector<std::uint32_t> ids;
    std::vector<codec::PacketView> views;
    for (auto& [id, k] : kept_)
      if (!k->tally) ids.push_back(id), views.push_back(k->packet.view());
    if (!views.empty()) {
      const std::vector<double> a = methods::agreement_with_vote(views, codec::decode_ternary(result));
      for (std::size_t i = 0; i < ids.size(); ++i) agreement_[ids[i]] = {v.round(), static_cast<float>(a[i])};
      for (const auto& f : suspicion_.observe(ids, a)) {
        const std::string why = fmt::format("its votes disagree with the majority {:.1f}% of the time (median {:.1f}%)",
                                            f.mean * 100.0, f.median * 100.0);
        log_.error("SUSPECT CLIENT '{}': {}", registry_.at(f.client_id).row.name, why);
        if (db_) db_->log_event(run_id_, net::system_clock().unix_s(), f.client_id, "suspect_client", why);
      }
    }
  }
  kept_.clear();
  if (v.evaluate() && parent_->client_id()) {
    // The children it reached score their hold-outs; their sums go up as one report.
    if (eval_.is_open()) send_eval();  // the previous evaluation: whatever came
    // Waited for: the live children (connected, heard within --dead-after), as
    // the coordinator waits for its clients; a silent one costs the deadline.
    std::set<std::uint32_t> asked;
    const double t = now_s();
    for (std::uint32_t id : registry_.connected_ids())
      if ((t - registry_.at(id).last_seen) * 1000.0 < cfg_.dead_after_ms) asked.insert(id);
    eval_.open(v.round(), std::move(asked), t + eval_wait_s_);
    if (eval_.ready(now_s())) send_eval();  // no children: an answer of none
  }
}

void Relay::send_eval() {
  EvalSum::Sums s = eval_.take();
  if (db_ && !s.rows.empty()) db_->commit_evals(run_id_, s.rows);  // each child's row here; the sums up
  if (!parent_->client_id()) return;
  fb::FlatBufferBuilder fbb(64);
  parent_->send(wire::finish_envelope(
      fbb, wire::CreateEvalReport(fbb, s.round, *parent_->client_id(), s.loss_sum, s.correct, s.samples)));
}

void Relay::on_snapshot(const wire::ModelSnapshot& s) {
  if (!snap_) return;
  if (snap_->offer(s) == core::SnapshotAssembler::Offer::complete) {
    snap_->install_into(*replica_);
    log_.say("resynced from the parent's snapshot (round {})", s.round());
  }
}

// ---- Children side --------------------------------------------------------

void Relay::send_child(const std::string& peer, std::span<const std::uint8_t> bytes) { children_->send(peer, bytes); }

void Relay::on_child_event(const net::TransportEvent& e) {
  if (e.kind == net::kKeyRevoked) {
    for (std::uint32_t id : registry_.revoke(e.who)) skip_child(id, "key revoked");
  } else if (e.kind == net::kPeerNotReading) {
    if (auto id = registry_.disconnect_peer(e.who)) skip_child(*id, "not reading");
  }
}

void Relay::skip_child(std::uint32_t id, const std::string& why) {
  if (round_ && round_->is_open() && round_->skip(id))
    pending_rows_.push_back(row_of(registry_.at(id), wire::ChildStatus::skipped, round_->round(), why));
}

void Relay::reject_child(const std::string& peer, coord::Client* c, ErrorCode code, const std::string& why,
                         std::uint32_t round, wire::ChildStatus status) {
  fb::FlatBufferBuilder fbb(128 + why.size());
  if (c && ++rejects_[c->row.client_id] <= kMaxRejectRows) {
    ChildReport r = row_of(*c, status, round, why);
    pending_rows_.push_back(std::move(r));
  }
  send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, code, fbb.CreateString(why), round)));
}

void Relay::on_child(const std::string& peer, std::span<const std::uint8_t> frame, const std::string& key) {
  const wire::AlignedFrame aligned(frame);
  frame = aligned.bytes();
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  const net::KeyGrant grant = children_->grant(key);
  if (!grant.listed) return;
  coord::Client* c = registry_.by_peer(peer, key);
  if (!env) {  // strangers' garbage: replies rate-limited, as the coordinator's
    if (c || reply_budget_.spend("peer:" + peer, now_s())) {
      fb::FlatBufferBuilder fbb(128);
      send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, ErrorCode::bad_message, fbb.CreateString(why), 0)));
    }
    return;
  }
  if (c) c->last_seen = now_s();
  const std::uint32_t open = round_ && round_->is_open() ? round_->round() : 0;
  switch (env->body_type()) {
    case Body::Join:
      if (!welcomed_) {  // the run is not known yet: answered once the parent's Welcome is here
        if (waiting_joins_.size() < 4 * cfg_.clients + 16)
          waiting_joins_.push_back({peer, key, std::vector<std::uint8_t>(frame.begin(), frame.end())});
        return;
      }
      return on_child_join(peer, *env->body_as_Join(), key, grant.name);
    case Body::Update: return on_child_update(peer, c, *env->body_as_Update(), frame.size());
    case Body::TallyUpdate: return on_child_tally(peer, c, *env->body_as_TallyUpdate(), frame.size());
    case Body::Skip: {
      const auto* s = env->body_as_Skip();
      if (c && s->client_id() == c->row.client_id && round_ && round_->is_open() && s->round() == round_->round())
        skip_child(c->row.client_id, net::printable(s->reason() ? s->reason()->string_view() : std::string_view(), 200));
      return;
    }
    case Body::SnapshotRequest: {
      if (!c || !replica_) return;
      const double t = now_s();
      if (t - c->last_snapshot < kSnapshotMinInterval) return;
      c->last_snapshot = t;
      core::send_snapshot(*replica_, round_ ? round_->round() : env->body_as_SnapshotRequest()->round(), model_spec_,
                          [&](std::span<const std::uint8_t> b) { return children_->send(peer, b); });
      return;
    }
    case Body::Heartbeat: {
      fb::FlatBufferBuilder fbb(64);
      if (!c) {
        send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, ErrorCode::unknown_client,
                                                                    fbb.CreateString("unknown client: send Join first"), 0)));
        return;
      }
      send_child(peer, wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, c->row.client_id, open, 0)));
      return;
    }
    case Body::Error:
      if (c) skip_child(c->row.client_id, "client error");
      return;
    case Body::EvalReport: return on_child_eval(peer, c, *env->body_as_EvalReport());
    case Body::GuardReport: return;  // not forwarded (relay.h)
    default: {
      fb::FlatBufferBuilder fbb(128);
      send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, ErrorCode::bad_message,
                                                                  fbb.CreateString(std::string("clients may not send ") +
                                                                                   wire::body_name(env->body_type())),
                                                                  0)));
      return;
    }
  }
}

void Relay::on_child_join(const std::string& peer, const wire::Join& m, const std::string& key,
                          const std::string& listed_name) {
  auto refuse = [&](ErrorCode code, const std::string& why) {
    fb::FlatBufferBuilder fbb(128 + why.size());
    send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, code, fbb.CreateString(why), 0)));
  };
  if (const auto no = coord::check_join(m, "relay", model_->spec(), model_->num_params()))
    return refuse(no->code, no->why);
  const std::string name = m.client_name()->str();
  if (m.relay_clients() > cfg_.clients)
    return refuse(ErrorCode::bad_value, fmt::format("a relay for {} clients below a relay for {}", m.relay_clients(),
                                                    cfg_.clients));
  const auto adm = registry_.admit(name, key, listed_name, peer, now_s(), kJoinMinInterval);
  using O = coord::ClientRegistry::Outcome;
  switch (adm.outcome) {
    case O::throttled: return;
    case O::identity_taken: return refuse(ErrorCode::bad_value, "client name '" + name + "' belongs to another key");
    case O::key_has_name: return refuse(ErrorCode::bad_value, "this key is bound to the board name '" + adm.bound_name + "'");
    case O::peer_has_name: return refuse(ErrorCode::bad_value, "this connection already joined under another name");
    case O::full: return refuse(ErrorCode::server_full, "relay full");
    case O::admitted: break;
  }
  coord::Client& c = *adm.client;
  c.row.platform = net::printable(m.platform() ? m.platform()->string_view() : std::string_view(), 64);
  c.row.arch = net::printable(m.arch() ? m.arch()->string_view() : std::string_view(), 64);
  c.row.samples = m.samples();
  c.relay_clients = m.relay_clients();
  if (db_) db_->upsert_client(run_id_, c.row, net::system_clock().unix_s());
  welcome_child(peer, c, m.have_digest());
  // A selected child that reconnects mid-round gets the task again.
  if (round_ && round_->is_open() && round_->is_selected(c.row.client_id) && !round_->answered(c.row.client_id))
    send_child(peer, round_->task);
  log_.say("child {} '{}' joined ({} samples{})", c.row.client_id, name, c.row.samples,
           c.relay_clients ? fmt::format(", a relay for {}", c.relay_clients) : std::string());
}

void Relay::welcome_child(const std::string& peer, coord::Client& c, std::uint64_t have_digest) {
  std::string why;
  send_child(peer, with_client_id(*wire::verify_envelope(welcome_, &why)->body_as_Welcome(), c.row.client_id));
  const double t = now_s();
  if (replica_->digest() != init_digest_ && have_digest != replica_->digest() && t - c.last_snapshot >= kSnapshotMinInterval) {
    c.last_snapshot = t;
    core::send_snapshot(*replica_, round_ && round_->is_open() ? round_->round() : 0, model_spec_,
                        [&](std::span<const std::uint8_t> b) { return children_->send(peer, b); });
  }
}

void Relay::reply_unknown(const std::string& peer, std::uint32_t round) {
  if (!reply_budget_.spend("peer:" + peer, now_s())) return;
  fb::FlatBufferBuilder fbb(96);
  send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, ErrorCode::unknown_client,
                                                              fbb.CreateString("unknown client: send Join first"), round)));
}

void Relay::on_child_eval(const std::string& peer, coord::Client* c, const wire::EvalReport& m) {
  if (!c) return reply_unknown(peer, m.round());
  if (const auto no = eval_.offer(c->row.client_id, m, coord::eval_samples_bound(*c))) {
    if (++rejects_[c->row.client_id] > kMaxRejectRows) return;  // a replaying child costs a bounded log
    log_.say("child {} '{}': {}", c->row.client_id, c->row.name, no->why);
    if (db_) db_->log_event(run_id_, net::system_clock().unix_s(), c->row.client_id, "eval_rejected", no->why);
    fb::FlatBufferBuilder fbb(128 + no->why.size());
    send_child(peer, wire::finish_envelope(fbb, wire::CreateError(fbb, no->code, fbb.CreateString(no->why), m.round())));
    return;
  }
  if (eval_.ready(now_s())) send_eval();
}

void Relay::on_child_update(const std::string& peer, coord::Client* c, const wire::Update& m, std::size_t bytes) {
  if (!c) return reply_unknown(peer, m.round());
  constexpr auto kLate = wire::ChildStatus::late, kRejected = wire::ChildStatus::rejected;
  if (const auto no = coord::check_admission(round_.get(), round_ ? round_->round() + 1 : 0, c->row.client_id, m.client_id(), m.round(),
                                             "update", "client"))
    return reject_child(peer, c, no->code, no->why, m.round(), no->late ? kLate : kRejected);
  if (c->relay_clients > 0)
    return reject_child(peer, c, ErrorCode::bad_message, "a relay sends TallyUpdate", m.round(), kRejected);
  if (!m.packet()) return reject_child(peer, c, ErrorCode::bad_message, "update has no packet", m.round(), kRejected);
  const codec::PacketView v = codec::view_of(*m.packet());
  auto admitted = coord::admit_packet(v, *strategy_, static_cast<std::uint32_t>(replica_->size()));
  if (const auto* no = std::get_if<coord::Refusal>(&admitted))
    return reject_child(peer, c, no->code, no->why, m.round(), kRejected);
  auto k = std::make_unique<Kept>();
  k->packet = std::move(std::get<codec::SignPacket>(admitted));  // a sparse one decoded: folded without a second walk
  ChildReport r = row_of(*c, wire::ChildStatus::counted, m.round(), "");
  r.bytes = static_cast<std::uint32_t>(bytes);
  r.payload_bytes = static_cast<std::uint32_t>(v.payload.size());
  r.latency_ms = static_cast<float>((now_s() - round_->opened_at()) * 1000.0);
  r.local_loss = std::isfinite(m.local_loss()) ? m.local_loss() : 0.0f;
  r.samples = std::min<std::uint32_t>(m.samples(), 1u << 24);
  k->rows.push_back(std::move(r));
  k->child_bytes = bytes;
  auto rec = std::make_unique<coord::Received>();
  rec->row.client_id = c->row.client_id;
  round_->count(c->row.client_id, std::move(rec));
  kept_[c->row.client_id] = std::move(k);
}

void Relay::on_child_tally(const std::string& peer, coord::Client* c, const wire::TallyUpdate& m, std::size_t) {
  constexpr auto kRejected = wire::ChildStatus::rejected;
  if (!c || c->relay_clients == 0)
    return reject_child(peer, c, ErrorCode::bad_message, "TallyUpdate from a client that did not join as a relay",
                        m.round(), kRejected);
  if (const auto no = coord::check_admission(round_.get(), round_ ? round_->round() + 1 : 0, c->row.client_id, m.client_id(), m.round(),
                                             "tally", "relay"))
    return reject_child(peer, c, no->code, no->why, m.round(), no->late ? wire::ChildStatus::late : kRejected);
  auto checked = coord::verify_tally_update(m, *strategy_, static_cast<std::uint32_t>(replica_->size()), c->relay_clients);
  if (const auto* no = std::get_if<coord::Refusal>(&checked)) return reject_child(peer, c, no->code, no->why, m.round(), kRejected);
  auto& v = std::get<coord::VerifiedTally>(checked);
  auto k = std::make_unique<Kept>();
  k->tally = std::move(v.tally);
  k->rows = std::move(v.rows);  // passed up unchanged (or logged here, with --db)
  k->below = v.logged_below;
  k->child_bytes = m.child_bytes();
  auto rec = std::make_unique<coord::Received>();
  rec->row.client_id = c->row.client_id;
  round_->count(c->row.client_id, std::move(rec));
  kept_[c->row.client_id] = std::move(k);
}

}  // namespace signfed::relay
