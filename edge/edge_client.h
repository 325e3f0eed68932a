// The edge client runtime: joins a coordinator, trains on its local shard and
// sends compressed updates, keeping a model replica bit-identical to the
// coordinator's (checked by digest every round; a mismatch or a late join is
// repaired with a model snapshot).
//
// The pieces: Session (edge/session.h: socket, CURVE, timers), LocalTrainer
// (edge/local_trainer.h: shard, minibatches, the update vector), core::Replica
// (core/replica/replica.h), methods::UpdateEncoder (compression and its error
// memory), the --state file (edge/error_memory_file.h). EdgeClient handles
// the coordinator's messages and ties them together.
//
// It rejoins by itself when the coordinator restarts (silence for
// rejoin_after_ms, or an unknown_client error). One EdgeClient owns one socket
// and runs on the calling thread; many may run in one process (simulation),
// sharing one read-only Dataset.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "core/methods/encoder.h"
#include "core/data/dataset.h"
#include "core/data/moments.h"
#include "core/replica/replica.h"
#include "core/replica/snapshot.h"
#include "edge/holdout.h"
#include "edge/local_trainer.h"
#include "edge/log.h"
#include "edge/session.h"
#include "edge/shared_replica.h"

namespace signfed::edge {

struct EdgeConfig {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string name;                    // stable client name (default: edge-<index>)
  std::string model;                   // empty: the model the coordinator's Welcome names
  std::string data_dir;                // IDX train files partitioned; empty: Debian's Fashion-MNIST
  data::LocalDataSource local_data;    // this board's own data file (path set): no partition
  std::string partition = "iid";       // iid | class1 | halves | shards:C | dirichlet:A | quantity:S
  std::uint32_t client_index = 0;
  std::uint32_t num_clients = 1;
  std::uint64_t data_seed = 1;         // partition and minibatch sampling
  std::string state_path;              // error-feedback memory survives restarts when set (edge/error_memory_file.h)
  // Federated evaluation (edge/holdout.h): this share of the shard, in
  // [0, 0.5], is held out (seeded by data_seed and client_index) and scored
  // when a VoteResult asks; 0: no hold-out (the client answers with samples 0).
  // At most half: the coordinator bounds a report by the Join's sample count.
  double holdout = 0.0;
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t rejoin_after_ms = 4000;
  std::uint32_t give_up_after_ms = 600000;
  bool quiet = false;

  // Transport security (docs/security.md). In-process default: plaintext, so
  // that the simulator and tests keep working; signfed-edge's CLI sets
  // insecure=false unless --insecure is given. Secure: curve_key_file is this
  // client's secret key (signfed-keygen NAME.key; its public key must be in
  // the coordinator's allowlist) and server_key_file the coordinator's public
  // key (COORD.pub). A coordinator that rejects the key ends run() with 1.
  bool insecure = true;
  std::string curve_key_file;
  std::string server_key_file;

  // Simulation and test hooks (all unset in signfed-edge):
  // simulated ms from task to update for this round (sent as Update.virtual_ms);
  std::function<double(std::uint32_t round, std::size_t samples, std::size_t upload_bytes)> virtual_latency_ms;
  // true: the client silently skips this round (dropout).
  std::function<bool(std::uint32_t round)> skip_round;
  // Called with the vector the client compresses (mean gradient; fedavg: the
  // model delta) and the packet it sends (--export-plan traces).
  std::function<void(std::uint32_t round, std::span<const float> compressed, const codec::SignPacket& sent)>
      trace_update;
  // Fault injection (tools/sim/faulty_edge.cc: Byzantine signs, artificial
  // delay): called with the packet after compression, before the work is
  // timed and the packet sent; may rewrite the packet or take time.
  std::function<void(std::uint32_t round, codec::SignPacket& packet)> tamper_update;
  // In-process simulation (edge/shared_replica.h): the run's one shared
  // replica and the bench of the worker thread this client runs on; both
  // outlive the client. Set together, with `model` set and a train set given:
  // the client then keeps no model, gradient or encoder of its own, only its
  // shard, sequences, error memory (s3gd, efsign), socket and replica version.
  // Not with state_path.
  SharedReplica* shared_replica = nullptr;
  Workbench* workbench = nullptr;
  // This client's rows of the train set, cut by the caller (the simulator
  // partitions once for all clients); empty: the constructor cuts them.
  std::vector<std::uint32_t> shard_rows;
};

class EdgeClient {
 public:
  // Loads the client's shard (from `train` if given, else from data_dir).
  // Throws data::DataError / std::runtime_error with a message saying what to do.
  EdgeClient(EdgeConfig cfg, zmq::context_t& ctx, std::shared_ptr<const data::Dataset> train = nullptr,
             const std::atomic<bool>* stop = nullptr);
  ~EdgeClient();

  // Runs until the coordinator says Bye (returns 0), the stop token is set
  // (returns 130), or a fatal error (returns 1 with the reason on stderr).
  int run();

  // Event-driven use, for one thread driving many clients (simulation):
  // start() once, then call on_readable() when socket() polls readable and
  // on_tick() at least every heartbeat interval. Both return false when the
  // client is finished; exit_code() then says how (as run()).
  void start();
  zmq::socket_t& socket() { return session_->socket(); }
  bool on_readable();
  bool on_tick() { return session_->tick(); }
  int exit_code() const { return session_->exit_code(); }

  // How the replica relates to the coordinator's model:
  //   unknown    before the first Welcome (parameters from seed 0)
  //   seeded     rebuilt from Welcome.seed, not yet confirmed by a task's digest
  //   in_sync    equal to the coordinator's current model
  //   resyncing  known to differ; a snapshot is requested with the next task
  enum class Sync { unknown, seeded, in_sync, resyncing };
  Sync sync() const { return sync_; }
  Session::State session_state() const { return session_->state(); }
  std::uint64_t digest() const {
    return cfg_.shared_replica ? cfg_.shared_replica->digest_at(version_) : replica_ ? replica_->digest() : 0;
  }
  std::uint32_t rounds_applied() const { return rounds_applied_; }

 private:
  // on_readable()'s work on one drained batch; false once the run is over.
  bool handle_batch(std::span<const zmq::message_t> batch);
  bool handle(std::span<const std::uint8_t> frame);  // false: stop running
  void on_welcome(const wire::Welcome& w);
  // The run's per-feature standardisation (Welcome vectors or InputStats):
  // checked (sizes = the model's inputs, finite, std > 0) and set on the
  // trainer and the hold-out evaluation.
  void adopt_feature_stats(const flatbuffers::Vector<float>* mean, const flatbuffers::Vector<float>* std);
  void on_error(const wire::Error& e);
  void on_task(const wire::RoundTask& t);
  void compute_and_send(std::uint32_t round, const wire::MethodParams& p, std::uint32_t deadline_ms);
  void on_vote(const wire::VoteResult& v);
  void on_guard_decision(const wire::GuardDecision& d);
  // EvalReport for `round`: the hold-out scored with the replica, or samples 0
  // when there is none or the replica is not the coordinator's.
  void send_eval_report(std::uint32_t round);
  void on_snapshot(const wire::ModelSnapshot& s);
  std::vector<std::uint8_t> join_frame() const;
  // Builds (or, after the first, replaces) the model: the trainer, encoder,
  // snapshot assembler and replica are sized by the first one.
  void adopt_model(std::unique_ptr<model::Model> model);
  const data::Dataset& data() const;  // the client's training data
  std::size_t samples() const;        // its training samples
  bool model_known() const { return trainer_ || own_; }
  std::string model_spec() const;
  std::size_t model_params() const;
  class Lease;  // the trainer to compute with (shared mode: the worker's bench, this client's state swapped in)

  EdgeConfig cfg_;
  Log log_;
  std::unique_ptr<Shard> shard_;            // the data until the model is known (then the trainer's)
  std::unique_ptr<LocalTrainer> trainer_;   // null until the model is known (--model, or the first Welcome)
  std::unique_ptr<methods::UpdateEncoder> encoder_;
  std::unique_ptr<core::Replica> replica_;  // views trainer_->model().params(); re-made with the model
  std::unique_ptr<core::SnapshotAssembler> snap_;
  std::unique_ptr<Session> session_;

  Sync sync_ = Sync::unknown;
  std::optional<std::uint32_t> pending_task_round_;
  std::vector<std::uint8_t> pending_task_;  // a task waiting for a snapshot (raw frame)
  bool guard_pending_ = false;              // a guarded step awaits its GuardDecision
  std::optional<std::uint32_t> eval_after_guard_;  // evaluate once the GuardDecision is applied
  data::Dataset holdout_;                   // never trained on; rows 0 without --holdout
  data::Standardisation inputs_;            // the run's input transform (Welcome, InputStats)
  // Welcome said the run's statistics are not fixed yet: tasks are ignored
  // until InputStats arrives (the coordinator sends it before round 0).
  bool inputs_pending_ = false;
  data::FeatureMoments moments_;            // of the training rows (hold-out cut), sent in every Join (shared mode: freed once in the Join)
  std::vector<float> eval_scratch_;         // the standardised hold-out
  // The round's buffers, kept so that a steady-state round allocates nothing
  // (tests/edge/edge_loop_alloc_test.cc): aligned copies of received frames
  // and the views of them, the packet we send and the builder it is framed
  // in, and the decoded vote result.
  std::vector<std::vector<std::uint64_t>> aligned_;
  std::vector<std::span<const std::uint8_t>> frames_;
  codec::SignPacket packet_;
  flatbuffers::FlatBufferBuilder out_{1024};
  core::Replica::DecodeBuffers decode_buffers_;
  std::uint32_t rounds_applied_ = 0;
  // Shared mode (cfg_.shared_replica): this client's own part of a trainer,
  // its error memory (sized on first use by s3gd / efsign), and the version
  // of the shared replica its replica stands at (edge/shared_replica.h).
  std::optional<LocalTrainer::ClientState> own_;
  std::vector<float> error_;
  std::size_t version_ = 0;
};

}  // namespace signfed::edge
