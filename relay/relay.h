// signfed-relay: one node of the aggregation tree (docs/relay.md).
//
// Toward its children (edge clients or lower relays) it is a coordinator: the
// same protocol on a ZeroMQ ROUTER (net::RouterTransport: CURVE + allowlist,
// or plaintext), the same client registry (coordinator/client_registry.h) and
// round bookkeeping (coordinator/round_state.h): Join -> Welcome (+ snapshot
// when its model has moved), RoundTask, Update / Skip, VoteResult,
// Heartbeat echo, ModelSnapshot on request, Bye.
// Toward its parent (the coordinator or another relay) it is one participant
// (edge::Session: Join with relay_clients, heartbeats, rejoin on silence):
//
//   RoundTask from the parent  -> forwarded to the live children (round 0
//                                 waits until its `clients` have joined, at most
//                                 half its deadline), with its own earlier deadline
//                                 (deadline_fraction of the parent's); the
//                                 same task again (a rejoin, a resumed
//                                 parent): the open round goes on, a closed
//                                 one's TallyUpdate is sent again if the
//                                 parent forgot us (unknown_client)
//   Update from a child        -> verified as the coordinator verifies one, kept
//   TallyUpdate from a relay   -> verified, kept (two tiers)
//   all answered / deadline    -> Strategy::fold of every counted update and
//                                 merge of every child tally into ONE
//                                 TallyUpdate to the parent, with a row per
//                                 leaf client (status, bytes, loss, ...), or
//                                 with --db: the rows committed to the relay's
//                                 own log (one transaction) and only their
//                                 totals sent up
//   VoteResult from the parent -> applied to its replica (it serves snapshots:
//                                 that is the only model state it keeps),
//                                 forwarded to the children; each kept
//                                 packet's agreement with the vote goes into
//                                 the relay's SuspicionMonitor and up in the
//                                 next round's child rows
//   Bye from the parent        -> forwarded; run() returns 0
//
// Unsupported (the parent refuses the relay's Join, or the relay ignores):
// --aggregate median|trimmed (no partial form), --guarded-step,
// --input-stats federated; children's GuardReports are not forwarded.
// Federated evaluation: the children's EvalReports for a round are summed
// into one report up (relay/eval_sum.h), sent when every child the
// VoteResult reached has answered or after the round's collection time.
// One Relay owns its two sockets and runs on the calling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "coordinator/client_registry.h"
#include "coordinator/event_budget.h"
#include "coordinator/inbound_checks.h"
#include "coordinator/round_log.h"
#include "coordinator/round_state.h"
#include "coordinator/suspicion.h"
#include "core/methods/strategy.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "core/replica/snapshot.h"
#include "edge/log.h"
#include "edge/session.h"
#include "net/transport.h"
#include "relay/eval_sum.h"

namespace signfed::relay {

struct RelayConfig {
  std::string parent = "tcp://127.0.0.1:5555";  // the coordinator's or the upper relay's endpoint
  std::string bind = "tcp://*:5556";            // where its children connect
  std::string name = "relay-0";                 // its client name at the parent
  std::uint32_t clients = 1;                    // leaf clients it speaks for (Join.relay_clients)
  double deadline_fraction = 0.8;               // its collection closes at this share of the parent's deadline
  std::uint32_t max_clients = 100000;
  std::uint32_t dead_after_ms = 30000;          // a silent child is not given the task
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t rejoin_after_ms = 4000;
  std::uint32_t give_up_after_ms = 600000;
  // Transport security (docs/security.md, docs/relay.md "Keys"): one key
  // pair serves both sides; children must know its public key, the parent
  // must list it in its allowlist.
  bool insecure = true;
  std::string curve_key_file;    // its secret key
  std::string parent_key_file;   // the parent's public key
  std::string allowlist_file;    // its children's public keys
  bool quiet = false;
  // Its own round log (a SQLite file or a postgresql:// URL, the coordinator's
  // schema): each round's row and one row per leaf. Then only the leaves'
  // totals go up (TallyUpdate.logged_below), so the parent's CPU and log grow
  // with its relays, not with the boards. Empty: the rows go up to the parent.
  std::string db;
};

using coord::ChildReport;  // a leaf's row for the log (coordinator/inbound_checks.h)

class Relay {
 public:
  // Binds the children's endpoint and connects to the parent; throws
  // std::runtime_error / std::invalid_argument with what to do.
  Relay(RelayConfig cfg, zmq::context_t& ctx, const std::atomic<bool>* stop = nullptr);
  ~Relay();

  // Until the parent's Bye (0), the stop token (130) or a fatal error (1, on stderr).
  int run();
  // Where children connect (with the real port when bound to tcp://*:0).
  std::string endpoint() const;
  std::uint64_t digest() const { return replica_ ? replica_->digest() : 0; }
  // Per round sent: (TallyUpdate frame bytes, the counted children's Update bytes).
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& uplink() const { return uplink_; }

 private:
  struct Kept;  // a counted child's packet or tally (relay.cc)

  // Parent side.
  bool on_parent(std::span<const std::uint8_t> frame);  // false: run over
  void on_welcome(const wire::Welcome& w);
  void on_task(std::span<const std::uint8_t> frame, const wire::RoundTask& t);
  void open_round(std::span<const std::uint8_t> task_frame, const wire::RoundTask& t);
  void on_vote(std::span<const std::uint8_t> frame, const wire::VoteResult& v);
  void on_snapshot(const wire::ModelSnapshot& s);
  std::vector<std::uint8_t> join_frame() const;
  // Children side.
  void on_child(const std::string& peer, std::span<const std::uint8_t> frame, const std::string& key);
  void on_child_event(const net::TransportEvent& e);
  void on_child_join(const std::string& peer, const wire::Join& m, const std::string& key,
                     const std::string& listed_name);
  void on_child_update(const std::string& peer, coord::Client* c, const wire::Update& m, std::size_t bytes);
  void on_child_tally(const std::string& peer, coord::Client* c, const wire::TallyUpdate& m, std::size_t bytes);
  void on_child_eval(const std::string& peer, coord::Client* c, const wire::EvalReport& m);
  // The evaluation's sums to the parent (and its rows to the relay's log).
  void send_eval();
  // "send Join first" to a connection that has not joined (per-source budget).
  void reply_unknown(const std::string& peer, std::uint32_t round);
  void welcome_child(const std::string& peer, coord::Client& c, std::uint64_t have_digest);
  void reject_child(const std::string& peer, coord::Client* c, wire::ErrorCode code, const std::string& why,
                    std::uint32_t round, wire::ChildStatus status);
  void skip_child(std::uint32_t id, const std::string& why);
  // Closes the round: one TallyUpdate to the parent.
  void close_round();
  void send_child(const std::string& peer, std::span<const std::uint8_t> bytes);
  void tick();
  double now_s() const;

  RelayConfig cfg_;
  const std::atomic<bool>* stop_;
  edge::Log log_;
  std::unique_ptr<net::Transport> children_;
  std::unique_ptr<edge::Session> parent_;
  coord::ClientRegistry registry_;
  // Error replies to connections that never joined (garbage, updates before a Join): per source per minute.
  coord::EventBudget reply_budget_{20, UINT32_MAX};
  coord::SuspicionMonitor suspicion_{4.0, 20};  // the coordinator's defaults (--suspect-mads, --suspect-min-rounds)

  // The run, from the parent's Welcome.
  bool welcomed_ = false;
  std::vector<std::uint8_t> welcome_;  // the parent's Welcome (client id 0), re-made per child with its id
  std::string model_spec_;
  std::uint64_t seed_ = 0;
  bool uniform_weighting_ = false;
  double clip_ = 0.0;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<core::Replica> replica_;
  std::unique_ptr<core::SnapshotAssembler> snap_;
  std::uint64_t init_digest_ = 0;
  std::unique_ptr<methods::Strategy> strategy_;  // from the first task's method parameters
  struct WaitingJoin {
    std::string peer, key;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<WaitingJoin> waiting_joins_;  // children that joined before the parent's Welcome

  // The round.
  std::vector<std::uint8_t> pending_task_;   // a task waiting for children or a snapshot
  double pending_since_ = 0.0;
  std::unique_ptr<coord::RoundState> round_;
  double round_deadline_ = 0.0;
  std::map<std::uint32_t, std::unique_ptr<Kept>> kept_;      // this round's counted children
  EvalSum eval_;                                             // children's EvalReports for the round that asked
  double eval_wait_s_ = 5.0;                                 // how long they may take: the round's collection time
  std::vector<ChildReport> pending_rows_;                    // late / rejected / skipped rows for the next TallyUpdate
  std::map<std::uint32_t, std::pair<std::uint32_t, float>> agreement_;  // child id -> (round, agreement)
  std::uint32_t last_closed_ = UINT32_MAX;
  std::vector<std::uint8_t> last_tally_;                     // the TallyUpdate of last_closed_, as sent
  bool parent_forgot_us_ = false;                            // unknown_client from the parent since last_tally_
  std::uint32_t parent_id_ = 0;                              // our id in the parent's last Welcome
  std::vector<std::pair<std::uint64_t, std::uint64_t>> uplink_;
  std::map<std::uint32_t, std::uint32_t> rejects_;           // child id -> rejection rows this round

  // Its own log (RelayConfig::db): a run per start, a round row per closed round.
  std::unique_ptr<coord::RoundLog> db_;
  std::int64_t run_id_ = 0;
  std::optional<std::uint32_t> last_logged_;  // the last round committed to run_id_
  double round_started_unix_ = 0.0;
  std::uint64_t round_downlink_ = 0;  // this round's tasks to the children, bytes
  // The leaves' rows of a closed round: logged here (the totals go up) or up in the TallyUpdate.
  // Returns the rows still to send up (none when logged here); adds the logged ones to `below`.
  std::vector<ChildReport> log_rows(std::uint32_t round, std::vector<ChildReport> rows, coord::LeafTotals& below,
                                    std::uint32_t folded, std::uint64_t child_bytes);
  void end_log(const char* status);
  void begin_log_run();  // a new run in its log, with every known client
};

}  // namespace signfed::relay
