// The coordinator's inbound side: every frame is verified (FlatBuffers
// verifier), attributed to a registered client by its routing id (and, at
// Join, bound to its CURVE key), checked against the open round, and answered
// with an Error that says what was wrong; rows about abuse are rate-limited
// (EventBudget). Also the outbound helpers: replies, snapshots, Bye.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <fmt/core.h>

#include "coordinator/coordinator.h"
#include "coordinator/inbound_checks.h"
#include "coordinator/round_state.h"
#include "core/methods/strategy.h"
#include "core/codec/wire_packet.h"
#include "core/replica/snapshot.h"
#include "net/printable.h"
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

bool Coordinator::poll_once(int timeout_ms) {
  const bool got = transport_->poll(
      timeout_ms, [this](const net::Inbound& m) { handle_frame(m.peer, m.bytes, m.key); },
      [this](const net::TransportEvent& e) { handle_event(e); });
  write_event_summaries();
  return got;
}

void Coordinator::handle_event(const net::TransportEvent& e) {
  if (e.kind == net::kKeyRevoked) return on_key_revoked(e.who);
  if (e.kind == net::kPeerNotReading && registry_.knows_peer(e.who)) return on_peer_not_reading(e.who, e.detail);
  // Unauthenticated failures are counted and summarised once a minute, never
  // written one by one: fresh keys and reconnects cost an attacker nothing.
  if (e.kind == "auth_rejected" || ((e.kind == "bad_frame" || e.kind == net::kPeerNotReading) && !registry_.knows_peer(e.who))) {
    tally(e.kind, e.who, net::printable(e.detail, 200));
    return;
  }
  log_limited(e.who, std::nullopt, e.kind, e.detail);
}

void Coordinator::write_event_summaries(bool flush) {
  for (const EventBudget::Row& r : event_budget_.due(now_s(), flush))
    log_->log_event(run_id_, unix_s(), std::nullopt, r.kind, r.detail);
}

void Coordinator::on_key_revoked(const std::string& key) {
  for (std::uint32_t id : registry_.revoke(key)) {
    log_->log_event(run_id_, unix_s(), id, "key_revoked", "key " + key + " left the allowlist: session closed");
    fmt::print(stderr, "signfed-coordinator: client {} '{}' revoked (its key left the allowlist)\n", id,
               registry_.at(id).row.name);
    leave_open_round(id, "key revoked");
  }
}

void Coordinator::on_peer_not_reading(const std::string& peer, const std::string& detail) {
  const std::optional<std::uint32_t> id = registry_.disconnect_peer(peer);
  if (!id) return;
  const std::string& name = registry_.at(*id).row.name;
  log_limited("peer:" + peer, *id, net::kPeerNotReading, "client '" + name + "' disconnected: " + detail);
  fmt::print(stderr, "signfed-coordinator: client {} '{}' does not read what is sent to it: disconnected\n", *id, name);
  leave_open_round(*id, "not reading");
}

bool Coordinator::leave_open_round(std::uint32_t id, const std::string& why) {
  if (!open_round() || !round_->skip(id)) return false;
  UpdateRow row;
  row.round = round_->round();
  row.client_id = id;
  row.status = "skipped";
  row.detail = why;
  pending_rows_.push_back(row);
  return true;
}

void Coordinator::tally(const std::string& kind, const std::string& source, const std::string& detail) {
  write_event_summaries();  // the window that ended, before this one counts
  event_budget_.tally(kind, source, detail, now_s());
}

bool Coordinator::event_allowed(const std::string& who) {
  write_event_summaries();
  return event_budget_.spend(who, now_s());
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
  const net::KeyGrant grant = transport_->grant(key);
  if (!grant.listed) {
    // A connection whose key was dropped from the allowlist: not heard any more.
    log_limited("key:" + key, std::nullopt, "revoked_key", "message from a revoked key " + key);
    return;
  }
  // Attributed by (routing id, key): another key on a known routing id is a stranger.
  Client* c = registry_.by_peer(peer, key);
  if (!env) {
    if (!c) {  // a peer that never joined: counted and summarised (EventBudget::tally), replies rate-limited
      tally("bad_message", "peer:" + peer, why);
      if (reply_budget_.spend("peer:" + peer, now_s())) reply_error(peer, ErrorCode::bad_message, why, 0);
      return;
    }
    if (event_allowed("peer:" + peer)) {
      log_->log_event(run_id_, unix_s(), c->row.client_id, "bad_message", why);
      reply_error(peer, ErrorCode::bad_message, why, open_round().value_or(0));
    }
    return;
  }
  if (c) c->last_seen = now_s();
  switch (env->body_type()) {
    case Body::Join:
      return on_join(peer, *env->body_as_Join(), key, grant.name);
    case Body::Update:
      return on_update(peer, c, *env->body_as_Update(), frame.size());
    case Body::TallyUpdate:
      return on_tally_update(peer, c, *env->body_as_TallyUpdate(), frame.size());
    case Body::Skip:
      return on_skip(peer, c, *env->body_as_Skip());
    case Body::SnapshotRequest:
      return on_snapshot_request(peer, c, *env->body_as_SnapshotRequest());
    case Body::GuardReport:
      return on_guard_report(peer, c, *env->body_as_GuardReport());
    case Body::EvalReport:
      return on_eval_report(peer, c, *env->body_as_EvalReport());
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
      if (open_round() == e->round()) leave_open_round(id, "client error: " + text.substr(0, 200));
      if (!event_allowed("peer:" + peer)) return;
      log_->log_event(run_id_, unix_s(), c->row.client_id, "client_error", text);
      if (!cfg_.quiet) fmt::print("client {} reports: {}\n", c->row.name, text);
      return;
    }
    default:
      reply_error(peer, ErrorCode::bad_message,
                  std::string("clients may not send ") + wire::body_name(env->body_type()), 0);
      return;
  }
}

std::string Coordinator::data_mismatch(const wire::Join& m) const {
  if (!m.sample_shape() || m.sample_shape()->size() == 0) return {};  // not said (older clients)
  std::uint64_t features = 1;
  std::string shape;
  for (std::uint32_t d : *m.sample_shape()) {
    features = std::min<std::uint64_t>(features * d, std::uint64_t{1} << 40);
    shape += (shape.empty() ? "" : ", ") + std::to_string(d);
  }
  const bool fits = features == model_->input_size() && m.classes() <= model_->num_classes();
  if (fits) return {};
  return fmt::format("the data does not fit the run's model: your samples have shape [{}] ({} features) and labels "
                     "of {} classes; the model takes {} inputs and {} classes. Give this board data with {} features "
                     "per sample and labels below {}, or train a model that fits it",
                     shape, features, m.classes(), model_->input_size(), model_->num_classes(), model_->input_size(),
                     model_->num_classes());
}

void Coordinator::on_join(const std::string& peer, const wire::Join& m, const std::string& key,
                          const std::string& listed_name) {
  if (const auto no = check_join(m, "coordinator", model_->spec(), model_->num_params()))
    return reply_error(peer, no->code, no->why, 0);
  const std::string name = m.client_name()->str();
  if (const std::string err = data_mismatch(m); !err.empty()) {
    reply_error(peer, ErrorCode::bad_value, err, 0);
    return;
  }
  if (federated_stats()) {
    if (const std::string err = moments_refusal(m); !err.empty()) {
      reply_error(peer, ErrorCode::bad_value, err, 0);
      return;
    }
  }
  if (m.relay_clients() > 0) {
    // A relay sends partial tallies: only a method with a partial form, no
    // guarded step (its loss reports are per client), no federated statistics
    // (a relay has no data of its own to send moments of).
    std::string why;
    if (!strategy_->tallies())
      why = "this run's aggregation (--aggregate " + methods::aggregate_rule_name(cfg_.aggregate) +
            ") has no partial tallies: relays cannot serve it; connect the clients to the coordinator directly";
    else if (strategy_->confirms())
      why = "relays do not support --guarded-step; connect the clients to the coordinator directly";
    else if (federated_stats())
      why = "relays do not support --input-stats federated; connect the clients to the coordinator directly";
    else if (m.relay_clients() > cfg_.max_clients)
      why = "a relay for " + std::to_string(m.relay_clients()) + " clients is above --max-clients " +
            std::to_string(cfg_.max_clients);
    if (!why.empty()) return reply_error(peer, ErrorCode::bad_value, why, 0);
  }
  const double t = now_s();
  if (!key.empty() && !join_throttle_.allow(key, t)) {
    tally("join_throttled", "key:" + key, "key " + key + " joined as '" + name + "' too often");
    return;  // no reply: nothing to amplify; the edge retries after its rejoin timeout
  }
  const ClientRegistry::Admission adm = registry_.admit(name, key, listed_name, peer, t, kJoinMinInterval);
  switch (adm.outcome) {
    case ClientRegistry::Outcome::throttled:
      return;
    case ClientRegistry::Outcome::identity_taken:
      log_limited("peer:" + peer, adm.client->row.client_id, "identity_rejected",
                  "key " + key + " tried to join as '" + name + "', which belongs to key " + adm.client->row.key);
      reply_error(peer, ErrorCode::bad_value, "client name '" + name + "' belongs to another key; choose another --name", 0);
      return;
    case ClientRegistry::Outcome::key_has_name:
      log_limited("key:" + key, std::nullopt, "identity_rejected",
                  "key " + key + " tried to join as '" + name + "' but is bound to '" + adm.bound_name + "'");
      reply_error(peer, ErrorCode::bad_value,
                  "this key is bound to the board name '" + adm.bound_name + "' (one key, one board); start the client "
                  "with --name " + adm.bound_name + ", or give this board its own key (signfed-keygen)", 0);
      return;
    case ClientRegistry::Outcome::peer_has_name:
      log_limited("peer:" + peer, adm.client->row.client_id, "identity_rejected",
                  "a plaintext connection joined as '" + adm.client->row.name + "' tried to join as '" + name + "'");
      reply_error(peer, ErrorCode::bad_value, "this connection already joined as '" + adm.client->row.name +
                                                  "'; one name per connection", 0);
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
  c.relay_clients = m.relay_clients();
  if (c.relay_clients > 0) c.row.platform = "relay";  // the log's marker (clients.platform)
  log_->upsert_client(run_id_, c.row, unix_s());
  keep_moments(name, m);

  fb::FlatBufferBuilder fbb(256 + 8 * inputs_.feature_mean.size());
  // Per-feature statistics ride in every Welcome once fixed; before that the
  // client is told to wait for InputStats.
  fb::Offset<fb::Vector<float>> mean_pf, std_pf;  // absent: scalar statistics (or pending)
  if (inputs_.per_feature()) {
    mean_pf = fbb.CreateVector(inputs_.feature_mean);
    std_pf = fbb.CreateVector(inputs_.feature_std);
  }
  auto w = wire::CreateWelcome(fbb, wire::kProtocolVersion, id, fbb.CreateString(std::to_string(run_id_)),
                               fbb.CreateString(model_->spec()), model_->num_params(), cfg_.seed, inputs_.enabled,
                               inputs_.mean, inputs_.std,
                               cfg_.init == model::Init::torch ? wire::Init::torch : wire::Init::he, mean_pf, std_pf,
                               input_stats_pending(), cfg_.weighting == methods::Weighting::uniform,
                               cfg_.aggregate.clip);
  send(peer, wire::finish_envelope(fbb, w));
  // A joiner rebuilds the seeded initial model from Welcome.seed; a snapshot
  // is only needed once the model has moved (1000 joins must not cost 1000
  // snapshots). Clients that find a different digest in their task ask for one.
  // At most one per identity per kSnapshotMinInterval, Join or request:
  // alternating connections of one key cannot multiply them.
  if (digest_ != init_digest_ && m.have_digest() != digest_ && t - c.last_snapshot >= kSnapshotMinInterval) {
    snapshot_bytes_ += send_snapshot(peer, open_round().value_or(0));
    c.last_snapshot = t;
  }
  // A selected client that reconnects while its round is open (it crashed, or
  // its task went to the old connection) gets the task again instead of
  // leaving the round to wait for its deadline.
  if (open_round() && round_->is_selected(id) && !round_->answered(id))
    round_->row.downlink_bytes += send(peer, round_->task);
  if (!cfg_.quiet)
    fmt::print("client {} '{}' joined ({}/{}, {} samples, {})\n", id, name, c.row.platform, c.row.arch, c.row.samples,
               c.row.data_desc);
  std::fflush(stdout);
}

void Coordinator::refuse_update(const std::string& peer, Client& c, UpdateRow& row, ErrorCode code,
                                const std::string& why, const char* status, std::uint32_t round) {
  // A client replaying or flooding gets a bounded number of rows and replies per round.
  // Between rounds the budget is the next round's.
  const std::uint32_t r = open_round().value_or(next_round_);
  if (c.reject_round != r) c.reject_round = r, c.rejects = 0;
  if (++c.rejects > kMaxRejectRowsPerRound) return;
  row.status = status;
  row.detail = why;
  pending_rows_.push_back(row);
  reply_error(peer, code, why, round);
}

bool Coordinator::admit_to_round(const std::string& peer, Client& c, UpdateRow& row, std::uint32_t round,
                                 std::uint32_t claimed_id, const char* what, const char* who) {
  const auto no = check_admission(round_.get(), next_round_, c.row.client_id, claimed_id, round, what, who);
  if (no) refuse_update(peer, c, row, no->code, no->why, no->late ? "late" : "rejected", round);
  return !no;
}

void Coordinator::on_update(const std::string& peer, Client* c, const wire::Update& m, std::size_t frame_bytes) {
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
    refuse_update(peer, *c, row, code, why, status, m.round());
  };
  if (!admit_to_round(peer, *c, row, m.round(), m.client_id(), "update", "client")) return;
  if (!m.packet()) return reject(ErrorCode::bad_message, "update has no packet", "rejected");
  const codec::PacketView v = codec::view_of(*m.packet());
  auto admitted = admit_packet(v, *strategy_, static_cast<std::uint32_t>(model_->num_params()));
  if (const auto* no = std::get_if<Refusal>(&admitted)) return reject(no->code, no->why, "rejected");
  auto r = std::make_unique<Received>();
  r->packet = std::move(std::get<codec::SignPacket>(admitted));
  row.payload_bytes = v.payload.size();
  row.status = "counted";
  if (cfg_.virtual_time && m.virtual_ms() >= 0.0f && std::isfinite(m.virtual_ms())) {
    r->virtual_ms = m.virtual_ms();
    row.latency_ms = m.virtual_ms();  // simulated, as every latency of a virtual-time run
  }
  r->row = row;
  round_->count(c->row.client_id, std::move(r));
}

void Coordinator::on_tally_update(const std::string& peer, Client* c, const wire::TallyUpdate& m,
                                  std::size_t frame_bytes) {
  if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
  UpdateRow row;
  row.round = m.round();
  row.client_id = c->row.client_id;
  row.bytes = frame_bytes;
  row.latency_ms = (now_s() - task_sent_at_) * 1000.0;
  auto reject = [&](ErrorCode code, const std::string& why, const char* status) {
    refuse_update(peer, *c, row, code, why, status, m.round());
  };
  if (c->relay_clients == 0)
    return reject(ErrorCode::bad_message, "TallyUpdate from a client that did not join as a relay", "rejected");
  if (!admit_to_round(peer, *c, row, m.round(), m.client_id(), "tally", "relay")) return;
  auto checked = verify_tally_update(m, *strategy_, static_cast<std::uint32_t>(model_->num_params()), c->relay_clients);
  if (const auto* no = std::get_if<Refusal>(&checked)) return reject(no->code, no->why, "rejected");
  VerifiedTally& v = std::get<VerifiedTally>(checked);
  auto r = std::make_unique<Received>();
  std::uint64_t counted_samples = 0;
  for (const ChildReport& ch : v.rows) {
    r->child_agreement.emplace_back(ch.agreement >= 0.0f ? ch.agreement_round : UINT32_MAX,
                                    ch.agreement >= 0.0f ? ch.agreement : 0.0);
    if (ch.status == wire::ChildStatus::counted) counted_samples += ch.samples;
    r->children.push_back(leaf_row(ch, m.round()));
  }
  counted_samples += v.logged_below.counted_samples;
  r->logged_below = v.logged_below;
  // Only now, with the message accepted, do the children's names enter the registry and the log.
  for (std::size_t i = 0; i < v.rows.size(); ++i) {
    const std::optional<std::uint32_t> id = register_leaf(registry_, v.rows[i], c->row.name, *log_, run_id_, unix_s());
    if (!id) return reject(ErrorCode::server_full, "no room for the relay's children in the log", "rejected");
    r->children[i].client_id = *id;
  }
  row.payload_bytes = m.tally()->size();
  row.status = "counted";
  row.samples = static_cast<std::uint32_t>(std::min<std::uint64_t>(counted_samples, 1u << 24));
  row.detail = fmt::format("relay: {} counted of {} rows{}; children's update bytes {}", methods::folded(v.tally),
                           v.rows.size() + v.logged_below.rows(),
                           v.logged_below.rows() ? fmt::format(" ({} in relay logs)", v.logged_below.rows()) : "",
                           m.child_bytes());
  r->row = row;
  r->tally = std::move(v.tally);
  round_->count(c->row.client_id, std::move(r));
}

void Coordinator::on_snapshot_request(const std::string& peer, Client* c, const wire::SnapshotRequest& m) {
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

void Coordinator::on_skip(const std::string& peer, Client* c, const wire::Skip& m) {
  if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
  const std::uint32_t id = c->row.client_id;
  // Only for itself, for the open round, when selected, and before any update.
  if (m.client_id() != id || open_round() != m.round() ||
      !leave_open_round(id, net::printable(m.reason() ? m.reason()->string_view() : std::string_view(), 200)))
    reply_error(peer, ErrorCode::bad_message, "Skip for a round this client cannot skip", m.round());
}

void Coordinator::on_guard_report(const std::string& peer, Client* c, const wire::GuardReport& m) {
  // Only a counted participant of the round being decided, once, for itself.
  if (!c || !confirming_ || !round_ || !round_->has_update(c->row.client_id)) return;  // stale: ignore
  if (m.round() != confirming_->round || m.client_id() != c->row.client_id ||
      confirming_->reports.count(c->row.client_id))
    return;
  if (!std::isfinite(m.loss_before()) || !std::isfinite(m.loss_after())) {
    reply_error(peer, ErrorCode::bad_value, "guard report with a non-finite loss", m.round());
    return;
  }
  confirming_->reports[c->row.client_id] = {c->row.client_id, m.loss_before(), m.loss_after()};
}

std::uint64_t Coordinator::send_snapshot(const std::string& peer, std::uint32_t round) {
  // While a guarded step is undecided the model is tentative: the peer gets
  // the decided one, after the GuardDecision.
  if (confirming_) {
    confirming_->snapshot_after.push_back(peer);
    return 0;
  }
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
