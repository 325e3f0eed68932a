#include "edge/edge_client.h"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "core/data/rng.h"
#include "core/data/sampler.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/replica/snapshot.h"
#include "core/kernels/sign_kernels.h"
#include "schema/wire.h"

namespace signfed::edge {

namespace fb = flatbuffers;
using wire::Body;

namespace {

double mono_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr std::uint32_t kStateMagic = 0x53464553;  // "SEFS": signfed edge state

}  // namespace

EdgeClient::EdgeClient(EdgeConfig cfg, zmq::context_t& ctx, std::shared_ptr<const data::Dataset> train,
                       const std::atomic<bool>* stop)
    : cfg_(std::move(cfg)), stop_(stop), dealer_(ctx, zmq::socket_type::dealer), train_(std::move(train)) {
  if (cfg_.name.empty()) cfg_.name = "edge-" + std::to_string(cfg_.client_index);
  if (cfg_.client_index >= cfg_.num_clients)
    throw std::invalid_argument("--client-index " + std::to_string(cfg_.client_index) + " must be below --num-clients " +
                                std::to_string(cfg_.num_clients));
  const data::PartitionSpec spec = data::parse_partition(cfg_.partition, cfg_.num_clients, cfg_.data_seed);
  if (train_) {
    shard_ = std::move(data::partition(train_->labels, train_->classes, spec).at(cfg_.client_index));
  } else {
    // Load only this client's shard: a board never holds the whole dataset.
    const std::string dir = cfg_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cfg_.data_dir;
    const std::uint32_t index = cfg_.client_index;
    train_ = std::make_shared<const data::Dataset>(data::load_fashion_mnist(
        dir, data::Split::train, [&](const std::vector<std::uint8_t>& labels, std::size_t classes) {
          return data::partition(labels, classes, spec).at(index);
        }));
    shard_.resize(train_->rows);
    for (std::uint32_t i = 0; i < shard_.size(); ++i) shard_[i] = i;
  }
  if (shard_.empty())
    throw data::DataError("client " + std::to_string(cfg_.client_index) + " got no samples from partition '" +
                          cfg_.partition + "' over " + std::to_string(cfg_.num_clients) + " clients");
  sampler_ = data::EpochSampler(shard_.size(), data::client_batch_seed(cfg_.data_seed, cfg_.client_index));
  model_ = model::make_model(cfg_.model, 0);
  replica_ = std::make_unique<core::Replica>(model_->params());
  snap_ = std::make_unique<core::SnapshotAssembler>(model_->num_params());
  if (model_->input_size() != train_->cols)
    throw std::invalid_argument("model " + model_->spec() + " takes " + std::to_string(model_->input_size()) +
                                " inputs but the data has " + std::to_string(train_->cols) + " features");
  const std::size_t n = model_->num_params();
  encoder_ = std::make_unique<codec::UpdateEncoder>(n, kernels::best_sign_kernels());
  grad_.assign(n, 0.0f);
  acc_.assign(n, 0.0f);
  load_state();

  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.set(zmq::sockopt::routing_id, cfg_.name + "#" + std::to_string(static_cast<unsigned long long>(mono_s() * 1e6)));
  // No ZMQ_IMMEDIATE: with it, a dropped connection discards what was already
  // received but not yet read (the Bye after the last round, for a busy
  // client). What queues while the coordinator is away is harmless: stale
  // updates are refused as wrong_round, heartbeats trigger a rejoin.
  dealer_.set(zmq::sockopt::reconnect_ivl, 200);
  dealer_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  dealer_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
  if (!cfg_.insecure) {
    if (cfg_.curve_key_file.empty() || cfg_.server_key_file.empty())
      throw std::invalid_argument("a secure client needs --key (its secret key) and --server-key (the coordinator's "
                                  "public key); or pass --insecure for plaintext on a trusted network");
    curve::make_client(dealer_, cfg_.curve_key_file, cfg_.server_key_file);
    monitor_ = std::make_unique<curve::SocketMonitor>(
        ctx, dealer_,
        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
            ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  }
  dealer_.connect(cfg_.endpoint);
}

EdgeClient::~EdgeClient() = default;

std::uint64_t EdgeClient::digest() const { return replica_->digest(); }

void EdgeClient::say(const char* fmt, ...) const {
  if (cfg_.quiet) return;
  std::va_list ap;
  va_start(ap, fmt);
  std::fprintf(stdout, "[%s] ", cfg_.name.c_str());
  std::vfprintf(stdout, fmt, ap);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  va_end(ap);
}

void EdgeClient::send(std::span<const std::uint8_t> bytes) {
  (void)dealer_.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait);
}

void EdgeClient::send_join() {
  utsname u{};
  uname(&u);
  std::string desc = cfg_.partition + " " + std::to_string(cfg_.client_index) + "/" + std::to_string(cfg_.num_clients);
  fb::FlatBufferBuilder fbb(512);
  auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(cfg_.name), fbb.CreateString(u.sysname),
                            fbb.CreateString(u.machine), fbb.CreateString(model_->spec()), model_->num_params(),
                            shard_.size(), fbb.CreateString(desc));
  send(wire::finish_envelope(fbb, j));
}

void EdgeClient::send_heartbeat() {
  fb::FlatBufferBuilder fbb(64);
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  send(wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, client_id_.value_or(0), last_update_round_.value_or(0), ms)));
}

void EdgeClient::start() {
  say("%s: %zu samples (%s), model %s, joining %s", cfg_.name.c_str(), shard_.size(), cfg_.partition.c_str(),
      model_->spec().c_str(), cfg_.endpoint.c_str());
  send_join();
  last_heard_ = last_join_ = last_beat_ = mono_s();
}

bool EdgeClient::on_readable() {
  // Drain what is queued first: a client that was busy (a straggler) may find
  // tasks for rounds whose result is already here. Computing those would only
  // add to its backlog, so such stale tasks are skipped.
  std::vector<zmq::message_t> batch;
  zmq::message_t msg;
  while (batch.size() < 4096 && dealer_.recv(msg, zmq::recv_flags::dontwait)) batch.push_back(std::move(msg));
  if (batch.empty()) return true;
  last_heard_ = mono_s();
  warned_silent_ = false;
  std::optional<std::uint32_t> latest_result;
  std::vector<wire::AlignedFrame> frames;
  frames.reserve(batch.size());
  for (const zmq::message_t& m : batch) frames.emplace_back(std::span{static_cast<const std::uint8_t*>(m.data()), m.size()});
  for (const wire::AlignedFrame& f : frames) {
    std::string why;
    const auto* env = wire::verify_envelope(f.bytes(), &why);
    if (env && env->body_type() == Body::VoteResult)
      latest_result = std::max(latest_result.value_or(0), env->body_as_VoteResult()->round());
  }
  for (const wire::AlignedFrame& f : frames) {
    const std::span<const std::uint8_t> frame = f.bytes();
    try {
      if (latest_result) {
        std::string why;
        const auto* env = wire::verify_envelope(frame, &why);
        if (env && env->body_type() == Body::RoundTask && env->body_as_RoundTask()->round() <= *latest_result) {
          say("round %u closed before we could start it; skipped (this client is slower than the deadline)",
              env->body_as_RoundTask()->round());
          continue;
        }
      }
      if (!handle(frame)) {
        exit_code_ = 0;
        return false;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[%s] fatal: %s\n", cfg_.name.c_str(), e.what());
      exit_code_ = 1;
      return false;
    }
  }
  return true;
}

bool EdgeClient::check_monitor() {
  if (!monitor_) return true;
  while (auto e = monitor_->next()) {
    if (e->event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      warned_handshake_ = false;
    } else if (e->event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      std::fprintf(stderr,
                   "[%s] the coordinator at %s rejected our CURVE key (status %d): add the public key from %s's "
                   ".pub file to the coordinator's --allow file\n",
                   cfg_.name.c_str(), cfg_.endpoint.c_str(), e->value, cfg_.curve_key_file.c_str());
      return false;
    } else if (!warned_handshake_) {
      warned_handshake_ = true;
      say("CURVE handshake with %s failed (%s); is --server-key the coordinator's public key, and is the coordinator "
          "running without --insecure? retrying",
          cfg_.endpoint.c_str(), e->event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "no detail");
    }
  }
  return true;
}

bool EdgeClient::on_tick() {
  if (stop_ && stop_->load()) {
    exit_code_ = 130;
    return false;
  }
  if (!check_monitor()) {
    exit_code_ = 1;
    return false;
  }
  const double t = mono_s();
  if (t - last_beat_ > cfg_.heartbeat_ms / 1000.0) {
    send_heartbeat();
    last_beat_ = t;
  }
  if (!client_id_ && t - last_join_ > 3.0) {  // not admitted yet: keep knocking
    send_join();
    last_join_ = t;
  }
  const double silent = t - last_heard_;
  if (silent > cfg_.rejoin_after_ms / 1000.0 && t - last_join_ > cfg_.rejoin_after_ms / 1000.0) {
    if (!warned_silent_) say("no word from the coordinator for %.0f s; rejoining", silent);
    warned_silent_ = true;
    client_id_.reset();
    send_join();
    last_join_ = t;
  }
  if (silent > cfg_.give_up_after_ms / 1000.0) {
    std::fprintf(stderr, "[%s] coordinator at %s unreachable for %.0f s; giving up\n", cfg_.name.c_str(),
                 cfg_.endpoint.c_str(), silent);
    exit_code_ = 1;
    return false;
  }
  return true;
}

int EdgeClient::run() {
  start();
  while (true) {
    zmq::pollitem_t items[] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(std::min<std::uint32_t>(cfg_.heartbeat_ms, 200)));
    if ((items[0].revents & ZMQ_POLLIN) && !on_readable()) return exit_code_;
    if (!on_tick()) return exit_code_;
  }
}

bool EdgeClient::handle(std::span<const std::uint8_t> frame) {
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(frame, &why);
  if (!env) {
    say("dropped a bad message from the coordinator: %s", why.c_str());
    return true;
  }
  switch (env->body_type()) {
    case Body::Welcome: {
      const auto* w = env->body_as_Welcome();
      if (w->protocol_version() != wire::kProtocolVersion || w->num_params() != model_->num_params() ||
          !w->model_spec() || w->model_spec()->str() != model_->spec()) {
        say("ignored a Welcome for another protocol or model");
        return true;
      }
      client_id_ = w->client_id();
      if (!in_sync_ && rounds_applied_ == 0) {
        // The coordinator's model starts as make_model(spec, seed): rebuild it
        // here; the first task's digest confirms it (else we ask for a snapshot).
        if (w->init() != wire::Init::he && w->init() != wire::Init::torch)
          throw std::runtime_error("the coordinator asked for an unknown initialisation; upgrade signfed-edge");
        model_ = model::make_model(cfg_.model, w->seed(),
                                   w->init() == wire::Init::torch ? model::Init::torch : model::Init::he);
        replica_ = std::make_unique<core::Replica>(model_->params());
        seeded_ = true;
      }
      if (w->standardise() && !(std::isfinite(w->input_mean()) && std::isfinite(w->input_std()) && w->input_std() > 0.0f))
        throw std::runtime_error("the coordinator sent an invalid input standardisation");
      inputs_ = {w->standardise(), w->input_mean(), w->input_std()};
      say("joined run %s as client %u", w->run_id() ? w->run_id()->c_str() : "?", w->client_id());
      return true;
    }
    case Body::RoundTask:
      on_task(*env->body_as_RoundTask());
      return true;
    case Body::VoteResult:
      on_vote(*env->body_as_VoteResult());
      return true;
    case Body::GuardDecision:
      on_guard_decision(*env->body_as_GuardDecision());
      return true;
    case Body::ModelSnapshot:
      on_snapshot(*env->body_as_ModelSnapshot());
      return true;
    case Body::Heartbeat:
      return true;
    case Body::Error: {
      const auto* e = env->body_as_Error();
      std::string text = e->text() ? e->text()->str().substr(0, 1024) : "";
      for (char& ch : text)
        if (ch < 0x20 || ch >= 0x7f) ch = '?';  // no terminal escapes
      switch (e->code()) {
        case wire::ErrorCode::unknown_client:
          client_id_.reset();
          send_join();
          return true;
        case wire::ErrorCode::version_mismatch:
        case wire::ErrorCode::bad_value:
          if (!client_id_) throw std::runtime_error("coordinator refused to admit us: " + text);
          say("coordinator: %s", text.c_str());
          return true;
        case wire::ErrorCode::wrong_round:
          say("round %u: our update arrived after the round closed (%s); this client is slower than the deadline",
              e->round(), text.c_str());
          return true;
        default:
          say("coordinator error %s: %s", wire::EnumNameErrorCode(e->code()), text.c_str());
          return true;
      }
    }
    case Body::Bye: {
      const auto* b = env->body_as_Bye();
      const bool ok = b->final_digest() == digest();
      say("run over (%s) after %u rounds; model digest %016llx %s", b->reason() ? b->reason()->c_str() : "",
          b->rounds(), static_cast<unsigned long long>(digest()), ok ? "matches the coordinator" : "DIFFERS");
      return false;
    }
    default:
      say("ignored unexpected %s from the coordinator", wire::body_name(env->body_type()));
      return true;
  }
}

void EdgeClient::on_task(const wire::RoundTask& t) {
  if (!t.params()) return;
  const auto& mp = *t.params();
  if (!wire::EnumNameMethod(mp.method()) || !*wire::EnumNameMethod(mp.method()) || !std::isfinite(mp.gamma()) ||
      !(mp.gamma() > 0.0f && mp.gamma() <= 1.0f) || !std::isfinite(mp.eta()) || !std::isfinite(mp.momentum()) ||
      !std::isfinite(t.step_size()) || mp.local_steps() > 1000) {
    say("round %u: ignored a task with out-of-range parameters", t.round());
    return;
  }
  task_round_ = t.round();
  if (!in_sync_ && seeded_ && t.model_digest() == digest()) in_sync_ = true;  // seeded init confirmed
  seeded_ = false;
  if (!in_sync_ || t.model_digest() != digest()) {
    // Our replica is not the one the task was computed for: fetch a snapshot,
    // then run the task (keep its bytes; the frame is gone after handle()).
    in_sync_ = false;
    fb::FlatBufferBuilder copy(256);
    const auto& p = *t.params();
    auto params = wire::CreateMethodParams(copy, p.method(), p.gamma(), p.eta(), p.momentum(), p.tie_rule(),
                                           p.local_steps(), p.batch_size());
    const auto bytes = wire::finish_envelope(
        copy, wire::CreateRoundTask(copy, t.round(), t.model_digest(), params, t.step_size(), t.deadline_ms(), t.guarded()));
    pending_task_.assign(bytes.begin(), bytes.end());
    pending_task_round_ = t.round();
    fb::FlatBufferBuilder fbb(64);
    send(wire::finish_envelope(fbb, wire::CreateSnapshotRequest(fbb, t.round(), digest())));
    return;
  }
  compute_and_send(t.round(), *t.params(), t.deadline_ms());
}

double EdgeClient::rows_gradient(std::span<const std::uint32_t> positions, std::span<float> grad) {
  const std::size_t cols = train_->cols;
  const std::size_t batch = positions.size();
  xbuf_.resize(batch * cols);
  ybuf_.resize(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    const std::uint32_t s = shard_[positions[b]];
    const std::span<const float> row(train_->features.data() + std::size_t{s} * cols, cols);
    inputs_.apply(row, std::span(xbuf_).subspan(b * cols, cols));  // the run's transform, from Welcome
    ybuf_[b] = train_->labels[s];
  }
  return model_->loss_and_grad(xbuf_, ybuf_, batch, grad);
}

double EdgeClient::minibatch_gradient(std::uint64_t batch_number, std::uint32_t batch, std::span<float> grad) {
  pos_.resize(batch);
  sampler_.batch(batch_number, pos_);
  return rows_gradient(pos_, grad);
}

void EdgeClient::compute_and_send(std::uint32_t round, const wire::MethodParams& p, std::uint32_t deadline_ms) {
  if (cfg_.skip_round && cfg_.skip_round(round)) {  // simulated dropout: say so, the round need not wait
    fb::FlatBufferBuilder fbb(96);
    send(wire::finish_envelope(
        fbb, wire::CreateSkip(fbb, round, client_id_.value_or(0), fbb.CreateString("dropout (simulated)"))));
    return;
  }
  const double t0 = mono_s();
  const std::uint32_t steps = std::max<std::uint16_t>(p.local_steps(), 1);
  const std::uint32_t batch = std::clamp<std::uint32_t>(p.batch_size(), 1, 4096);
  codec::MethodConfig mc;
  mc.method = p.method();
  mc.gamma = p.gamma();
  mc.eta = p.eta();
  mc.momentum = p.momentum();
  mc.tie_rule = p.tie_rule();
  const std::uint64_t base_seed = data::mix_seed(cfg_.data_seed, cfg_.client_index, round);
  // Minibatch number round * steps + s of the client's epoch sequence (data/sampler.h).
  const std::uint64_t first_batch = std::uint64_t{round} * steps;
  double loss = 0.0;
  std::fill(acc_.begin(), acc_.end(), 0.0f);
  if (mc.method == wire::Method::fedavg) {
    // McMahan et al. 2017: local SGD at the task's local rate on a copy; the
    // update is the pseudo-gradient x_start - x_local (the server steps by its own rate).
    const float local_lr = p.local_lr();
    if (!(local_lr > 0.0f) || !std::isfinite(local_lr)) {
      say("round %u: ignored a fedavg task without a positive local_lr", round);
      return;
    }
    const std::vector<float> start(model_->params().begin(), model_->params().end());
    for (std::uint32_t s = 0; s < steps; ++s) {
      loss += minibatch_gradient(first_batch + s, batch, grad_);
      codec::apply_dense_step(model_->params(), grad_, local_lr);
    }
    for (std::size_t i = 0; i < acc_.size(); ++i) acc_[i] = start[i] - model_->params()[i];
    std::copy(start.begin(), start.end(), model_->params().begin());
  } else {
    for (std::uint32_t s = 0; s < steps; ++s) {
      loss += minibatch_gradient(first_batch + s, batch, grad_);
      for (std::size_t i = 0; i < acc_.size(); ++i) acc_[i] += grad_[i];
    }
    if (steps > 1)
      for (float& a : acc_) a /= static_cast<float>(steps);
  }
  loss /= steps;
  codec::SignPacket pk;
  try {
    pk = encoder_->encode(acc_, mc, data::mix_seed(base_seed, 0xc0de));
  } catch (const codec::CodecError& e) {
    say("round %u: cannot send an update: %s", round, e.what());
    fb::FlatBufferBuilder fbb(256);
    send(wire::finish_envelope(fbb, wire::CreateError(fbb, wire::ErrorCode::bad_value, fbb.CreateString(e.what()), round)));
    return;
  }
  if (cfg_.trace_update) cfg_.trace_update(round, acc_, pk);
  if (!cfg_.byzantine.empty()) corrupt(pk, base_seed);
  if (cfg_.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.delay_ms));
  const double ms = (mono_s() - t0) * 1000.0;
  if (ms > deadline_ms)
    say("round %u: local work took %.0f ms, longer than the %u ms deadline; the update will count as late", round, ms,
        deadline_ms);
  fb::FlatBufferBuilder fbb(pk.payload.size() + 256);
  auto wp = codec::build_packet(fbb, pk);
  const float vms = cfg_.virtual_latency_ms
                        ? static_cast<float>(cfg_.virtual_latency_ms(round, batch * steps, pk.payload.size()))
                        : -1.0f;
  auto u = wire::CreateUpdate(fbb, round, client_id_.value_or(0), wp, batch * steps, static_cast<float>(loss),
                              static_cast<float>(ms), vms);
  send(wire::finish_envelope(fbb, u));
  last_update_round_ = round;
  save_state(round);
}

void EdgeClient::on_vote(const wire::VoteResult& v) {
  if (!in_sync_ || !v.packet()) return;  // the next task will bring a snapshot
  if (!std::isfinite(v.step_size()) || !std::isfinite(v.momentum())) {
    say("round %u: ignored a vote result with a non-finite step; will resync", v.round());
    in_sync_ = false;
    return;
  }
  try {
    if (v.guarded()) replica_->save();
    replica_->apply(codec::view_of(*v.packet()), v.step_size(), v.momentum());
  } catch (const codec::CodecError& e) {
    say("round %u: bad vote result (%s); will resync", v.round(), e.what());
    in_sync_ = false;
    return;
  }
  ++rounds_applied_;
  if (digest() != v.new_digest()) {
    say("round %u: model digest %016llx differs from the coordinator's %016llx; will resync", v.round(),
        static_cast<unsigned long long>(digest()), static_cast<unsigned long long>(v.new_digest()));
    in_sync_ = false;
    return;
  }
  if (v.guarded() && last_update_round_ == v.round()) {
    // Safaryan Alg. 1 Option 2: losses before and after the step on a fixed local batch.
    guard_pending_ = true;
    if (guard_rows_.empty()) {  // a fixed batch of 64 local samples, drawn once
      data::Rng rng(data::mix_seed(cfg_.data_seed, cfg_.client_index, 0xf17ed));
      guard_rows_.resize(64);
      for (auto& r : guard_rows_) r = static_cast<std::uint32_t>(rng.below(shard_.size()));
    }
    const double after = rows_gradient(guard_rows_, grad_);
    const std::vector<float> now(model_->params().begin(), model_->params().end());
    const auto saved = replica_->saved_params();
    std::copy(saved.begin(), saved.end(), model_->params().begin());
    const double before = rows_gradient(guard_rows_, grad_);
    std::copy(now.begin(), now.end(), model_->params().begin());
    fb::FlatBufferBuilder fbb(64);
    send(wire::finish_envelope(fbb, wire::CreateGuardReport(fbb, v.round(), client_id_.value_or(0),
                                                            static_cast<float>(before), static_cast<float>(after))));
  } else if (v.guarded()) {
    guard_pending_ = true;
  }
}

void EdgeClient::on_guard_decision(const wire::GuardDecision& d) {
  if (!guard_pending_) return;
  guard_pending_ = false;
  if (!d.keep()) replica_->roll_back();
  if (digest() != d.model_digest()) in_sync_ = false;
}

void EdgeClient::on_snapshot(const wire::ModelSnapshot& s) {
  switch (snap_->offer(s)) {
    case core::SnapshotAssembler::Offer::malformed:
      say("ignored a malformed model snapshot");
      return;
    case core::SnapshotAssembler::Offer::partial:
      return;
    case core::SnapshotAssembler::Offer::digest_mismatch:
      say("model snapshot failed its digest check; discarded");
      return;
    case core::SnapshotAssembler::Offer::complete:
      break;
  }
  snap_->install_into(*replica_);
  in_sync_ = true;
  if (pending_task_round_) {
    std::vector<std::uint8_t> task = std::move(pending_task_);
    pending_task_round_.reset();
    std::string why;
    if (const wire::Envelope* env = wire::verify_envelope(task, &why)) on_task(*env->body_as_RoundTask());
  }
}

void EdgeClient::corrupt(codec::SignPacket& p, std::uint64_t seed) const {
  // Byzantine behaviour for robustness tests: the packet stays well-formed,
  // only its signs lie. Dense: every sign bit; sparse: the trailing nnz sign bits.
  data::Rng rng(seed ^ 0xbad);
  auto flip_bit = [&](std::uint64_t bit) {
    const bool set = cfg_.byzantine == "flip" || (rng.next() >> 63);
    if (set) p.payload[bit >> 3] ^= static_cast<std::uint8_t>(1u << (bit & 7));
  };
  if (p.encoding == wire::Encoding::dense_sign) {
    for (std::uint64_t i = 0; i < p.dim; ++i) flip_bit(i);
  } else if (p.encoding == wire::Encoding::sparse_sign) {
    // The sign bits are the last nnz bits before the zero padding.
    const codec::SparseSigns s = codec::decode_sparse(p.view());
    codec::SparseSigns lie = s;
    for (auto& n : lie.negative) n = cfg_.byzantine == "flip" ? !n : static_cast<std::uint8_t>(rng.next() >> 63);
    p = codec::encode_sparse(lie);
  }
}

void EdgeClient::save_state(std::uint32_t round) {
  if (cfg_.state_path.empty()) return;
  const auto e = encoder_->error_memory();
  const std::string tmp = cfg_.state_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    const std::uint32_t head[3] = {kStateMagic, static_cast<std::uint32_t>(e.size()), round};
    f.write(reinterpret_cast<const char*>(head), sizeof head);
    f.write(reinterpret_cast<const char*>(e.data()), static_cast<std::streamsize>(e.size() * sizeof(float)));
    if (!f) {
      say("cannot write state file %s; error memory will not survive a restart", tmp.c_str());
      return;
    }
  }
  std::rename(tmp.c_str(), cfg_.state_path.c_str());
}

void EdgeClient::load_state() {
  if (cfg_.state_path.empty()) return;
  std::ifstream f(cfg_.state_path, std::ios::binary);
  if (!f) return;  // first start
  std::uint32_t head[3] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  std::vector<float> e(model_->num_params());
  f.read(reinterpret_cast<char*>(e.data()), static_cast<std::streamsize>(e.size() * sizeof(float)));
  if (!f || head[0] != kStateMagic || head[1] != e.size()) {
    say("state file %s does not match this model; starting with zero error memory", cfg_.state_path.c_str());
    return;
  }
  encoder_->set_error_memory(e);
  say("restored error-feedback memory from %s (after round %u)", cfg_.state_path.c_str(), head[2]);
}

}  // namespace signfed::edge
