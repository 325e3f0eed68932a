#include "edge/edge_client.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <fmt/core.h>

#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"
#include "edge/error_memory_file.h"
#include "schema/wire.h"

namespace signfed::edge {

namespace fb = flatbuffers;
using wire::Body;

namespace {

SessionConfig session_config(const EdgeConfig& c) {
  SessionConfig s;
  s.endpoint = c.endpoint;
  s.name = c.name;
  s.heartbeat_ms = c.heartbeat_ms;
  s.rejoin_after_ms = c.rejoin_after_ms;
  s.give_up_after_ms = c.give_up_after_ms;
  s.insecure = c.insecure;
  s.curve_key_file = c.curve_key_file;
  s.server_key_file = c.server_key_file;
  return s;
}

// Seeds the hold-out apart from the partition and the minibatch streams.
constexpr std::uint64_t kHoldoutSalt = 0x401d;

std::string with_default_name(EdgeConfig& c) {
  if (c.name.empty()) c.name = "edge-" + std::to_string(c.client_index);
  return c.name;
}

}  // namespace

// The trainer a computation uses. Alone: the client's own. Shared mode: the
// worker's bench, with this client's shard, sequences and dropout position
// swapped in for the lease's lifetime and its inputs set.
class EdgeClient::Lease {
 public:
  explicit Lease(EdgeClient& c) : c_(c) {
    if (!c_.own_) return;
    LocalTrainer& t = *c_.cfg_.workbench->trainer;
    t.swap_client(*c_.own_);
    t.set_inputs(c_.inputs_);
  }
  ~Lease() {
    if (c_.own_) c_.cfg_.workbench->trainer->swap_client(*c_.own_);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  LocalTrainer& trainer() { return c_.own_ ? *c_.cfg_.workbench->trainer : *c_.trainer_; }
  // Shared mode: the bench's parameters are brought to the client's version;
  // false if the shared replica has moved past it (this client fell behind).
  bool synced() { return !c_.own_ || c_.cfg_.workbench->sync(*c_.cfg_.shared_replica, c_.version_); }

 private:
  EdgeClient& c_;
};

EdgeClient::EdgeClient(EdgeConfig cfg, zmq::context_t& ctx, std::shared_ptr<const data::Dataset> train,
                       const std::atomic<bool>* stop)
    : cfg_(std::move(cfg)), log_(with_default_name(cfg_), cfg_.quiet) {
  if (cfg_.shared_replica && (!cfg_.workbench || cfg_.model.empty() || !train || !cfg_.local_data.path.empty() ||
                              !cfg_.state_path.empty()))
    throw std::invalid_argument("a shared replica needs a workbench, a model and the train set, and no state file");
  if (!(cfg_.holdout >= 0.0 && cfg_.holdout <= 0.5))
    throw std::invalid_argument("--holdout must be in [0, 0.5], got " + std::to_string(cfg_.holdout));
  // The hold-out comes out of the client's data before training ever sees it.
  LocalHoldout split = hold_out(
      !cfg_.shard_rows.empty() ? Shard{std::move(train), std::exchange(cfg_.shard_rows, {})}
      : cfg_.local_data.path.empty()
          ? load_shard(std::move(train), cfg_.data_dir, cfg_.partition, cfg_.client_index, cfg_.num_clients,
                       cfg_.data_seed)
          : local_shard(cfg_.local_data),
      cfg_.holdout, data::mix_seed(cfg_.data_seed, cfg_.client_index, kHoldoutSalt));
  holdout_ = std::move(split.holdout);
  shard_ = std::make_unique<Shard>(std::move(split.train));
  // For --input-stats federated: what the coordinator may learn of the data
  // (count, per-feature sums and sums of squares), of the training rows only.
  moments_ = data::feature_moments(*shard_->data, shard_->rows);
  // Without --model the client trains whatever the coordinator's Welcome names.
  if (cfg_.shared_replica) {
    own_ = LocalTrainer::client_state(std::move(*shard_), cfg_.data_seed, cfg_.client_index);
    shard_.reset();
  } else if (!cfg_.model.empty()) {
    adopt_model(model::make_model(cfg_.model, 0));
  }
  session_ = std::make_unique<Session>(session_config(cfg_), ctx, log_, stop);
}

void EdgeClient::adopt_model(std::unique_ptr<model::Model> model) {
  if (trainer_) {
    trainer_->replace_model(std::move(model));
  } else {  // the first model: the trainer, the encoder and their state are sized by it
    trainer_ = std::make_unique<LocalTrainer>(std::move(*shard_), std::move(model), cfg_.data_seed, cfg_.client_index);
    shard_.reset();
    const std::size_t n = trainer_->model().num_params();
    snap_ = std::make_unique<core::SnapshotAssembler>(n, codec::architecture_basis(trainer_->model().spec()));
    encoder_ = std::make_unique<methods::UpdateEncoder>(n, kernels::best_sign_kernels());
    if (!cfg_.state_path.empty()) {
      std::vector<float> e(n, 0.0f);
      const LoadResult r = load_error_memory(cfg_.state_path, e);
      if (r.status == LoadStatus::ok) {
        encoder_->set_error_memory(e);
        log_.say("restored error-feedback memory from {} (after round {})", cfg_.state_path, r.round);
      } else if (r.status != LoadStatus::absent) {
        log_.error("{}", r.message);
      }
    }
  }
  replica_ = std::make_unique<core::Replica>(trainer_->model().params(), codec::architecture_basis(trainer_->model().spec()));
}

const data::Dataset& EdgeClient::data() const {
  return own_ ? *own_->shard.data : trainer_ ? trainer_->data() : *shard_->data;
}
std::size_t EdgeClient::samples() const {
  return own_ ? own_->shard.rows.size() : trainer_ ? trainer_->shard_size() : shard_->rows.size();
}
std::string EdgeClient::model_spec() const {
  return own_ ? cfg_.shared_replica->spec() : trainer_ ? trainer_->model().spec() : cfg_.model;
}
std::size_t EdgeClient::model_params() const {
  return own_ ? cfg_.shared_replica->num_params() : trainer_ ? trainer_->model().num_params() : 0;
}

EdgeClient::~EdgeClient() = default;

std::vector<std::uint8_t> EdgeClient::join_frame() const {
  utsname u{};
  uname(&u);
  const std::string spec = model_spec();  // empty: the run's model
  const std::uint64_t params = model_params();
  std::string desc = cfg_.local_data.path.empty() ? cfg_.partition + " " + std::to_string(cfg_.client_index) + "/" +
                                                        std::to_string(cfg_.num_clients)
                                                  : "local " + cfg_.local_data.path;
  const data::Dataset& d = data();
  std::vector<std::uint32_t> shape;
  for (std::size_t v : d.sample_shape.empty() ? std::vector<std::size_t>{d.cols} : d.sample_shape)
    shape.push_back(static_cast<std::uint32_t>(v));
  const data::FeatureMoments recomputed =
      own_ && moments_.sum.empty() ? data::feature_moments(*own_->shard.data, own_->shard.rows) : data::FeatureMoments{};
  const data::FeatureMoments& moments = own_ && moments_.sum.empty() ? recomputed : moments_;
  fb::FlatBufferBuilder fbb(512 + 16 * moments.sum.size());
  auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(cfg_.name), fbb.CreateString(u.sysname),
                            fbb.CreateString(u.machine), fbb.CreateString(spec), params, samples(),
                            fbb.CreateString(desc),
                            // a rejoin in step with the run needs no snapshot
                            sync_ == Sync::in_sync ? digest() : 0, fbb.CreateVector(shape),
                            static_cast<std::uint16_t>(d.classes), moments.count, fbb.CreateVector(moments.sum),
                            fbb.CreateVector(moments.sum_sq));
  const auto bytes = wire::finish_envelope(fbb, j);
  return {bytes.begin(), bytes.end()};
}

void EdgeClient::start() {
  log_.say("{}: {} samples ({}), model {}, joining {}", cfg_.name, samples(),
           cfg_.local_data.path.empty() ? cfg_.partition : cfg_.local_data.path,
           model_known() ? model_spec() : std::string("from the coordinator"), cfg_.endpoint);
  session_->start([this] { return join_frame(); });
  // Shared mode: the moments' 2 x features doubles need not stay with every
  // idle simulated client; join_frame() recomputes them for a (rare) rejoin.
  if (own_) moments_ = {};
}

bool EdgeClient::on_readable() {
  // Drain what is queued first: a client that was busy (a straggler) may find
  // tasks for rounds whose result is already here. Computing those would only
  // add to its backlog, so such stale tasks are skipped.
  const std::span<const zmq::message_t> batch = session_->receive();
  const bool handled = handle_batch(batch);
  session_->release();
  // A simulated client sharing a workbench keeps no frame copies while idle
  // (a board keeps them: reusing their storage keeps its rounds malloc-free).
  if (own_) aligned_ = {};
  return handled;
}

bool EdgeClient::handle_batch(std::span<const zmq::message_t> batch) {
  std::optional<std::uint32_t> latest_result;
  // 8-byte aligned views of the frames (FlatBuffers reads scalars in place),
  // copied where needed into buffers kept between calls.
  if (aligned_.size() < batch.size()) aligned_.resize(batch.size());
  frames_.clear();
  for (std::size_t i = 0; i < batch.size(); ++i)
    frames_.push_back(
        wire::align_frame({static_cast<const std::uint8_t*>(batch[i].data()), batch[i].size()}, aligned_[i]));
  for (const std::span<const std::uint8_t> f : frames_) {
    std::string why;
    const auto* env = wire::verify_envelope(f, &why);
    if (env && env->body_type() == Body::VoteResult)
      latest_result = std::max(latest_result.value_or(0), env->body_as_VoteResult()->round());
  }
  for (const std::span<const std::uint8_t> frame : frames_) {
    try {
      if (latest_result) {
        std::string why;
        const auto* env = wire::verify_envelope(frame, &why);
        if (env && env->body_type() == Body::RoundTask && env->body_as_RoundTask()->round() <= *latest_result) {
          log_.say("round {} closed before we could start it; skipped (this client is slower than the deadline)",
                   env->body_as_RoundTask()->round());
          continue;
        }
      }
      if (!handle(frame)) {
        session_->finish(0);
        return false;
      }
    } catch (const std::exception& e) {
      log_.error("fatal: {}", e.what());
      session_->finish(1);
      return false;
    }
  }
  return true;
}

int EdgeClient::run() {
  start();
  while (true) {
    zmq::pollitem_t items[] = {{socket().handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, std::chrono::milliseconds(session_->poll_ms()));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      items[0].revents = 0;  // a signal woke us: on_tick() checks the stop token
    }
    if ((items[0].revents & ZMQ_POLLIN) && !on_readable()) return exit_code();
    if (!on_tick()) return exit_code();
  }
}

bool EdgeClient::handle(std::span<const std::uint8_t> frame) {
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  if (!env) {
    log_.say("dropped a bad message from the coordinator: {}", why);
    return true;
  }
  switch (env->body_type()) {
    case Body::Welcome: on_welcome(*env->body_as_Welcome()); break;
    case Body::RoundTask: on_task(*env->body_as_RoundTask()); break;
    case Body::VoteResult: {
      const auto* v = env->body_as_VoteResult();
      on_vote(*v);
      if (v->evaluate()) {
        if (guard_pending_) eval_after_guard_ = v->round();  // the model is final after the GuardDecision
        else send_eval_report(v->round());
      }
      break;
    }
    case Body::GuardDecision: on_guard_decision(*env->body_as_GuardDecision()); break;
    case Body::ModelSnapshot: on_snapshot(*env->body_as_ModelSnapshot()); break;
    case Body::InputStats: {
      if (!model_known()) break;  // before any Welcome: the next Welcome carries them
      const auto* st = env->body_as_InputStats();
      adopt_feature_stats(st->mean(), st->std());
      log_.say("input statistics: per feature, from the federation ({} features)", inputs_.feature_mean.size());
      break;
    }
    case Body::Error: on_error(*env->body_as_Error()); break;
    case Body::Heartbeat: break;
    case Body::Bye: {
      const auto* b = env->body_as_Bye();
      const bool ok = b->final_digest() == digest();
      log_.say("run over ({}) after {} rounds; model digest {:016x} {}", b->reason() ? b->reason()->c_str() : "",
               b->rounds(), digest(), ok ? "matches the coordinator" : "DIFFERS");
      return false;
    }
    default: log_.say("ignored unexpected {} from the coordinator", wire::body_name(env->body_type())); break;
  }
  return true;
}

void EdgeClient::on_welcome(const wire::Welcome& w) {
  const std::string spec = w.model_spec() ? w.model_spec()->str() : "";
  if (w.protocol_version() != wire::kProtocolVersion || spec.empty() ||
      (model_known() && (spec != model_spec() || w.num_params() != model_params()))) {
    log_.say("ignored a Welcome for another protocol or model");
    return;
  }
  if (!model_known() || (sync_ != Sync::in_sync && rounds_applied_ == 0)) {
    // The coordinator's model starts as make_model(spec, seed): build it
    // here; the first task's digest confirms it (else we ask for a snapshot).
    if (w.init() != wire::Init::he && w.init() != wire::Init::torch)
      throw std::runtime_error("the coordinator asked for an unknown initialisation; upgrade signfed-edge");
    const model::Init init = w.init() == wire::Init::torch ? model::Init::torch : model::Init::he;
    if (own_) {  // shared: version 0 is that model
      if (w.seed() != cfg_.shared_replica->seed() || init != cfg_.shared_replica->init())
        throw std::runtime_error("the coordinator's seed or initialisation differs from the shared replica's");
      version_ = 0;
    } else {
      adopt_model(model::make_model(spec, w.seed(), init));
    }
    sync_ = Sync::seeded;
  }
  session_->welcomed(w.client_id());
  if (w.standardise() && !(std::isfinite(w.input_mean()) && std::isfinite(w.input_std()) && w.input_std() > 0.0f))
    throw std::runtime_error("the coordinator sent an invalid input standardisation");
  inputs_ = {w.standardise(), w.input_mean(), w.input_std()};
  inputs_pending_ = false;
  if (w.standardise() && w.input_mean_per_feature() && w.input_mean_per_feature()->size() > 0) {
    adopt_feature_stats(w.input_mean_per_feature(), w.input_std_per_feature());
  } else if (w.standardise() && w.input_stats_pending()) {
    inputs_pending_ = true;  // InputStats follows before round 0
    inputs_ = {};
  }
  if (trainer_) trainer_->set_inputs(inputs_);  // (shared mode: set at each Lease)
  log_.say("joined run {} as client {}", w.run_id() ? w.run_id()->c_str() : "?", w.client_id());
}

void EdgeClient::adopt_feature_stats(const flatbuffers::Vector<float>* mean, const flatbuffers::Vector<float>* std) {
  const std::size_t f = own_ ? cfg_.workbench->trainer->model().input_size() : trainer_->model().input_size();
  if (!mean || !std || mean->size() != f || std->size() != f)
    throw std::runtime_error(fmt::format("the coordinator sent per-feature input statistics of {} features; the "
                                         "model takes {}",
                                         mean ? mean->size() : 0, f));
  data::Standardisation st;
  st.enabled = true;
  st.feature_mean.assign(mean->begin(), mean->end());
  st.feature_std.assign(std->begin(), std->end());
  for (std::size_t j = 0; j < f; ++j)
    if (!std::isfinite(st.feature_mean[j]) || !std::isfinite(st.feature_std[j]) || !(st.feature_std[j] > 0.0f))
      throw std::runtime_error(fmt::format("the coordinator sent an invalid input standardisation for feature {} "
                                           "(mean {}, std {})", j, st.feature_mean[j], st.feature_std[j]));
  inputs_ = std::move(st);
  inputs_pending_ = false;
  if (trainer_) trainer_->set_inputs(inputs_);
}

void EdgeClient::on_error(const wire::Error& e) {
  std::string text = e.text() ? e.text()->str().substr(0, 1024) : "";
  for (char& ch : text)
    if (ch < 0x20 || ch >= 0x7f) ch = '?';  // no terminal escapes
  switch (e.code()) {
    case wire::ErrorCode::unknown_client:
      session_->rejoin();
      return;
    case wire::ErrorCode::version_mismatch:
    case wire::ErrorCode::bad_value:
      if (!session_->client_id()) throw std::runtime_error("coordinator refused to admit us: " + text);
      log_.say("coordinator: {}", text);
      return;
    case wire::ErrorCode::wrong_round:
      log_.say("round {}: our update arrived after the round closed ({}); this client is slower than the deadline",
               e.round(), text);
      return;
    default:
      log_.say("coordinator error {}: {}", wire::EnumNameErrorCode(e.code()), text);
      return;
  }
}

void EdgeClient::on_task(const wire::RoundTask& t) {
  if (!t.params() || !model_known()) return;  // no model before the first Welcome
  if (inputs_pending_) {  // a guard: the coordinator sends InputStats before any task
    log_.say("round {}: ignored a task that came before the run's input statistics", t.round());
    return;
  }
  const auto& mp = *t.params();
  if (!wire::EnumNameMethod(mp.method()) || !*wire::EnumNameMethod(mp.method()) || !std::isfinite(mp.gamma()) ||
      !(mp.gamma() > 0.0f && mp.gamma() <= 1.0f) || !std::isfinite(mp.eta()) || !std::isfinite(mp.momentum()) ||
      !std::isfinite(t.step_size()) || mp.local_steps() > 1000) {
    log_.say("round {}: ignored a task with out-of-range parameters", t.round());
    return;
  }
  if (sync_ == Sync::seeded) sync_ = t.model_digest() == digest() ? Sync::in_sync : Sync::resyncing;
  if (sync_ != Sync::in_sync || t.model_digest() != digest()) {
    // Our replica is not the one the task was computed for: fetch a snapshot,
    // then run the task (keep its bytes; the frame is gone after handle()).
    sync_ = Sync::resyncing;
    fb::FlatBufferBuilder copy(256);
    auto params = wire::CreateMethodParams(copy, mp.method(), mp.gamma(), mp.eta(), mp.momentum(), mp.tie_rule(),
                                           mp.local_steps(), mp.batch_size(), mp.local_lr());
    const auto bytes = wire::finish_envelope(
        copy, wire::CreateRoundTask(copy, t.round(), t.model_digest(), params, t.step_size(), t.deadline_ms(), t.guarded()));
    pending_task_.assign(bytes.begin(), bytes.end());
    pending_task_round_ = t.round();
    fb::FlatBufferBuilder fbb(64);
    session_->send(wire::finish_envelope(fbb, wire::CreateSnapshotRequest(fbb, t.round(), digest())));
    return;
  }
  compute_and_send(t.round(), mp, t.deadline_ms());
}

void EdgeClient::compute_and_send(std::uint32_t round, const wire::MethodParams& p, std::uint32_t deadline_ms) {
  const std::uint32_t client_id = session_->client_id().value_or(0);
  if (cfg_.skip_round && cfg_.skip_round(round)) {  // simulated dropout: say so, the round need not wait
    fb::FlatBufferBuilder fbb(96);
    session_->send(
        wire::finish_envelope(fbb, wire::CreateSkip(fbb, round, client_id, fbb.CreateString("dropout (simulated)"))));
    return;
  }
  const double t0 = net::system_clock().now_s();
  LocalWork w;
  w.round = round;
  w.steps = std::max<std::uint16_t>(p.local_steps(), 1);
  w.batch = std::clamp<std::uint32_t>(p.batch_size(), 1, 4096);
  w.fedavg = methods::trains_locally(p.method());
  w.local_lr = p.local_lr();
  if (w.fedavg && (!(w.local_lr > 0.0f) || !std::isfinite(w.local_lr))) {
    log_.say("round {}: ignored a fedavg task without a positive local_lr", round);
    return;
  }
  Lease lease(*this);
  if (!lease.synced()) {
    log_.say("round {}: the model moved on before this client could start; skipped (slower than the deadline)", round);
    return;
  }
  LocalTrainer& trainer = lease.trainer();
  const double loss = trainer.compute(w);
  methods::MethodConfig mc;
  mc.method = p.method();
  mc.gamma = p.gamma();
  mc.eta = p.eta();
  mc.momentum = p.momentum();
  mc.tie_rule = p.tie_rule();
  const std::uint64_t base_seed = data::mix_seed(cfg_.data_seed, cfg_.client_index, round);
  codec::SignPacket& pk = packet_;  // its payload keeps its storage between rounds
  methods::UpdateEncoder& encoder = own_ ? cfg_.workbench->encoder : *encoder_;
  // Shared mode: this client's error memory on the bench's encoder for the encode.
  const bool own_error = own_ && keeps_error_memory(mc.method);
  if (own_error && error_.empty()) error_.assign(model_params(), 0.0f);
  if (own_error) encoder.swap_error_memory(error_);
  try {
    encoder.encode_into(trainer.update(), mc, data::mix_seed(base_seed, 0xc0de), pk);
    if (own_error) encoder.swap_error_memory(error_);
  } catch (const codec::CodecError& e) {
    if (own_error) encoder.swap_error_memory(error_);
    log_.say("round {}: cannot send an update: {}", round, e.what());
    fb::FlatBufferBuilder fbb(256);
    session_->send(
        wire::finish_envelope(fbb, wire::CreateError(fbb, wire::ErrorCode::bad_value, fbb.CreateString(e.what()), round)));
    return;
  }
  if (cfg_.trace_update) cfg_.trace_update(round, trainer.update(), pk);
  if (cfg_.tamper_update) cfg_.tamper_update(round, pk);
  const double ms = (net::system_clock().now_s() - t0) * 1000.0;
  if (ms > deadline_ms)
    log_.say("round {}: local work took {:.0f} ms, longer than the {} ms deadline; the update will count as late", round,
             ms, deadline_ms);
  const std::uint32_t samples = w.batch * w.steps;
  fb::FlatBufferBuilder& fbb = out_;  // reused: its buffer grows to the largest update once
  fbb.Clear();
  auto wp = codec::build_packet(fbb, pk);
  const float vms =
      cfg_.virtual_latency_ms ? static_cast<float>(cfg_.virtual_latency_ms(round, samples, pk.payload.size())) : -1.0f;
  session_->send(wire::finish_envelope(fbb, wire::CreateUpdate(fbb, round, client_id, wp, samples,
                                                               static_cast<float>(loss), static_cast<float>(ms), vms)));
  session_->sent_update(round);
  // The encoder holds error memory only once s3gd or efsign has used it: nothing to save before.
  if (!cfg_.state_path.empty() && !encoder_->error_memory().empty()) {
    if (const std::string err = save_error_memory(cfg_.state_path, round, encoder_->error_memory()); !err.empty())
      log_.error("{}; error memory will not survive a restart", err);
  }
}

void EdgeClient::on_vote(const wire::VoteResult& v) {
  if (sync_ != Sync::in_sync || !v.packet()) return;  // the next task will bring a snapshot
  if (!std::isfinite(v.step_size()) || !std::isfinite(v.momentum())) {
    log_.say("round {}: ignored a vote result with a non-finite step; will resync", v.round());
    sync_ = Sync::resyncing;
    return;
  }
  try {
    // A round without counted updates moves nothing: the coordinator applies
    // nothing, so neither may a replica (zero signs with mu = 0 would reset
    // the momentum buffer of signum/s3gd/randk; S3GD-MV eq. (25)).
    if (v.voters() > 0 && own_) {  // shared: the first client applies the round's result, the others find it applied
      const auto to = cfg_.shared_replica->apply(version_, v.round(), codec::view_of(*v.packet()), v.step_size(),
                                                 v.momentum(), v.guarded());
      if (!to) {
        log_.say("round {}: our replica missed a result; will resync", v.round());
        sync_ = Sync::resyncing;
        return;
      }
      version_ = *to;
    } else if (v.voters() > 0) {
      if (v.guarded()) replica_->save();
      replica_->apply(codec::view_of(*v.packet()), v.step_size(), v.momentum(), decode_buffers_);
    }
  } catch (const codec::CodecError& e) {
    log_.say("round {}: bad vote result ({}); will resync", v.round(), e.what());
    sync_ = Sync::resyncing;
    return;
  }
  ++rounds_applied_;
  if (digest() != v.new_digest()) {
    log_.say("round {}: model digest {:016x} differs from the coordinator's {:016x}; will resync", v.round(), digest(),
             v.new_digest());
    sync_ = Sync::resyncing;
    return;
  }
  if (!v.guarded()) return;
  guard_pending_ = true;
  if (session_->last_update_round() == v.round()) {
    // Safaryan Alg. 1 Option 2: losses before and after the step on a fixed local batch.
    Lease lease(*this);
    LocalTrainer::GuardLosses g;
    if (own_) {
      if (!lease.synced() || !cfg_.shared_replica->copy_saved_params(version_, cfg_.workbench->before)) {
        log_.say("round {}: the model moved on before the guard's losses; will resync", v.round());
        sync_ = Sync::resyncing;
        return;
      }
      g = lease.trainer().guard_losses(cfg_.workbench->before);
    } else {
      g = trainer_->guard_losses(replica_->saved_params());
    }
    fb::FlatBufferBuilder& fbb = out_;
    fbb.Clear();
    session_->send(wire::finish_envelope(fbb, wire::CreateGuardReport(fbb, v.round(), session_->client_id().value_or(0),
                                                                      static_cast<float>(g.before),
                                                                      static_cast<float>(g.after))));
  }
}

void EdgeClient::on_guard_decision(const wire::GuardDecision& d) {
  if (!guard_pending_) return;
  guard_pending_ = false;
  if (!d.keep() && own_) {
    if (const auto to = cfg_.shared_replica->roll_back(version_, d.round())) version_ = *to;
    else sync_ = Sync::resyncing;
  } else if (!d.keep()) {
    replica_->roll_back();
  }
  if (digest() != d.model_digest()) sync_ = Sync::resyncing;
  if (eval_after_guard_) {
    send_eval_report(*eval_after_guard_);
    eval_after_guard_.reset();
  }
}

void EdgeClient::send_eval_report(std::uint32_t round) {
  HoldoutScore s;
  if (sync_ == Sync::in_sync && holdout_.rows > 0) {
    Lease lease(*this);
    if (lease.synced()) s = score_holdout(lease.trainer().model(), holdout_, inputs_, eval_scratch_);
  }
  if (s.samples > 0)
    log_.say("round {}: hold-out loss {:.4f}, accuracy {:.2f}% ({} samples)", round, s.loss_sum / s.samples,
             100.0 * s.correct / s.samples, s.samples);
  fb::FlatBufferBuilder& fbb = out_;
  fbb.Clear();
  session_->send(wire::finish_envelope(
      fbb, wire::CreateEvalReport(fbb, round, session_->client_id().value_or(0), s.loss_sum, s.correct, s.samples)));
}

void EdgeClient::on_snapshot(const wire::ModelSnapshot& s) {
  if (!snap_ && own_)  // shared: made when needed, freed once installed
    snap_ = std::make_unique<core::SnapshotAssembler>(model_params(), cfg_.shared_replica->basis());
  if (!snap_) return;  // no model before the first Welcome
  switch (snap_->offer(s)) {
    case core::SnapshotAssembler::Offer::malformed:
      log_.say("ignored a malformed model snapshot");
      return;
    case core::SnapshotAssembler::Offer::partial:
      return;
    case core::SnapshotAssembler::Offer::digest_mismatch:
      log_.say("model snapshot failed its digest check; discarded");
      return;
    case core::SnapshotAssembler::Offer::complete:
      break;
  }
  if (own_) {
    // The snapshot replaces the shared parameters only if it differs from them.
    std::vector<float> params(model_params());
    core::Replica got(params, cfg_.shared_replica->basis());
    snap_->install_into(got);
    version_ = cfg_.shared_replica->install(got);
    snap_.reset();
  } else {
    snap_->install_into(*replica_);
  }
  sync_ = Sync::in_sync;
  if (pending_task_round_) {
    std::vector<std::uint8_t> task = std::move(pending_task_);
    pending_task_round_.reset();
    std::string why;
    if (const wire::Envelope* env = wire::verify_envelope(task, &why)) on_task(*env->body_as_RoundTask());
  }
}

}  // namespace signfed::edge
