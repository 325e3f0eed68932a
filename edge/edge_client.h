// The edge client runtime: a ZeroMQ DEALER that joins a coordinator, trains
// on its local shard and sends compressed updates, keeping a model replica
// bit-identical to the coordinator's (checked by digest every round; a
// mismatch or a late join is repaired with a model snapshot).
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

#include "core/codec/compress.h"
#include "core/data/dataset.h"
#include "core/data/sampler.h"
#include "net/curve.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "core/replica/snapshot.h"

namespace signfed::edge {

struct EdgeConfig {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string name;                    // stable client name (default: edge-<index>)
  std::string model = "mlp";
  std::string data_dir;                // IDX train files; empty: Debian's Fashion-MNIST
  std::string partition = "iid";       // iid | class1 | halves | shards:C | dirichlet:A | quantity:S
  std::uint32_t client_index = 0;
  std::uint32_t num_clients = 1;
  std::uint64_t data_seed = 1;         // partition and minibatch sampling
  std::string state_path;              // error-feedback memory survives restarts when set
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t rejoin_after_ms = 4000;
  std::uint32_t give_up_after_ms = 600000;
  std::uint32_t delay_ms = 0;          // artificial compute delay per round (straggler testing)
  std::string byzantine;               // "", "flip" (negate every sign) or "random" (random signs): robustness tests
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

  // Simulation hooks (unset in the binary):
  // simulated ms from task to update for this round (sent as Update.virtual_ms);
  std::function<double(std::uint32_t round, std::size_t samples, std::size_t upload_bytes)> virtual_latency_ms;
  // true: the client silently skips this round (dropout).
  std::function<bool(std::uint32_t round)> skip_round;
  // Called with the vector the client compresses (mean gradient; fedavg: the
  // model delta) and the packet it sends (--export-plan traces).
  std::function<void(std::uint32_t round, std::span<const float> compressed, const codec::SignPacket& sent)>
      trace_update;
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
  zmq::socket_t& socket() { return dealer_; }
  bool on_readable();
  bool on_tick();
  int exit_code() const { return exit_code_; }

  std::uint64_t digest() const;
  std::uint32_t rounds_applied() const { return rounds_applied_; }

 private:
  void send_join();
  void send_heartbeat();
  bool handle(std::span<const std::uint8_t> frame);  // false: stop running
  void on_task(const wire::RoundTask& t);
  void compute_and_send(std::uint32_t round, const wire::MethodParams& p, std::uint32_t deadline_ms);
  void on_vote(const wire::VoteResult& v);
  void on_guard_decision(const wire::GuardDecision& d);
  void on_snapshot(const wire::ModelSnapshot& s);
  void send(std::span<const std::uint8_t> bytes);
  // Mean loss and gradient over the shard rows at these shard positions (standardised).
  double rows_gradient(std::span<const std::uint32_t> positions, std::span<float> grad);
  // Minibatch number k of the client's epoch sequence (data/sampler.h).
  double minibatch_gradient(std::uint64_t batch_number, std::uint32_t batch, std::span<float> grad);
  void save_state(std::uint32_t round);
  void load_state();
  void say(const char* fmt, ...) const;
  void corrupt(codec::SignPacket& p, std::uint64_t seed) const;
  bool check_monitor();  // false: fatal handshake failure

  EdgeConfig cfg_;
  const std::atomic<bool>* stop_;
  zmq::socket_t dealer_;
  std::unique_ptr<curve::SocketMonitor> monitor_;  // CURVE handshake failures (secure only)
  bool warned_handshake_ = false;
  bool seeded_ = false;                // params rebuilt from Welcome.seed, not yet confirmed by a task digest
  std::optional<std::uint32_t> task_round_;  // round of the last task received
  std::shared_ptr<const data::Dataset> train_;
  std::vector<std::uint32_t> shard_;
  data::EpochSampler sampler_{1, 0};   // minibatches without replacement, epoch by epoch
  std::vector<std::uint32_t> pos_, guard_rows_;
  data::Standardisation inputs_;       // from Welcome
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<codec::UpdateEncoder> encoder_;
  std::unique_ptr<core::Replica> replica_;  // views model_->params(); re-made with the model
  std::vector<float> grad_, acc_, xbuf_;
  std::vector<std::uint8_t> ybuf_;

  std::optional<std::uint32_t> client_id_;
  bool in_sync_ = false;               // params equal the coordinator's current model
  std::optional<std::uint32_t> pending_task_round_;
  std::vector<std::uint8_t> pending_task_;  // a task waiting for a snapshot (raw frame)
  std::unique_ptr<core::SnapshotAssembler> snap_;
  std::optional<std::uint32_t> last_update_round_;
  bool guard_pending_ = false;
  std::uint32_t rounds_applied_ = 0;
  double last_heard_ = 0.0;
  double last_join_ = 0.0;
  double last_beat_ = 0.0;
  bool warned_silent_ = false;
  int exit_code_ = 0;
};

}  // namespace signfed::edge
