// The coordinator: runs the rounds of a federated run over a Transport
// (net/transport.h: a ZeroMQ ROUTER in production, in memory in tests).
//
// run(): open or resume the run -> wait for --clients joins -> per round:
//   begin_round   select participants (ClientRegistry), the task from the
//                 Strategy, send RoundTask
//   collect       poll the transport until RoundState::complete() or the deadline
//                 (inbound frames: messages.cc)
//   finish_round  close (virtual-time admission), Strategy::aggregate into
//                 the Replica, broadcast VoteResult;
//                 confirm_step (strategies that confirm(), i.e. the guarded
//                 step): collect GuardReports, Strategy::confirm keeps or
//                 rolls back the step, broadcast GuardDecision;
//                 evaluate, commit the round to SQLite (one transaction, with
//                 the round's result for the vote log, and a checkpoint every
//                 --checkpoint-every rounds), observers (progress line, simulator probes)
// -> Bye to every connected client.
//
// Everything a client sends is verified before use (FlatBuffers verifier,
// sender identity, round id, sizes, duplicates); a bad message gets an Error
// reply and a rate-limited log row, and the round goes on. The coordinator
// owns its transport and runs on the calling thread; the stop token (an
// atomic set by another thread or a signal handler) ends the run after the
// current poll.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/codec/packet.h"
#include "coordinator/client_registry.h"
#include "coordinator/config.h"
#include "coordinator/event_budget.h"
#include "coordinator/join_throttle.h"
#include "coordinator/round_log.h"
#include "coordinator/round_observer.h"
#include "coordinator/suspicion.h"
#include "core/methods/strategy.h"
#include "net/clock.h"
#include "net/transport.h"
#include "core/data/dataset.h"
#include "core/data/moments.h"
#include "core/model/model.h"
#include "core/replica/replica.h"

namespace signfed::coord {

class RoundState;  // round_state.h
class ProgressPrinter;  // progress.h

// While a step awaits confirmation (Coordinator::confirm_step): the round,
// the participants' loss reports, and who joined or asked for a snapshot
// meanwhile (they get the decided model after the GuardDecision).
// (At namespace scope: clang cannot emplace a nested struct with default
// member initialisers into an optional member of the enclosing class.)
struct Confirmation {
  std::uint32_t round = 0;
  std::map<std::uint32_t, methods::LossReport> reports;
  std::vector<std::string> snapshot_after;
};

struct RunSummary {
  std::int64_t run_id = 0;
  std::uint32_t rounds_done = 0;
  double final_accuracy = -1.0;   // -1: never evaluated
  double best_accuracy = -1.0;
  double final_fed_accuracy = -1.0;  // the boards' hold-out (sample-weighted), last reported round; -1: none
  std::uint64_t uplink_bytes = 0, downlink_bytes = 0;
  std::uint32_t clients = 0;
  std::uint64_t final_digest = 0;
  std::string status;             // completed | interrupted
};

class Coordinator {
 public:
  // Binds the endpoint and opens the round log; throws std::runtime_error
  // (with a message saying what to do) when either fails.
  Coordinator(CoordinatorConfig cfg, zmq::context_t& ctx, const std::atomic<bool>* stop = nullptr);
  // Over any transport and clock: tests drive a whole run through
  // net::MemoryTransport and net::ManualClock, with no socket and no sleep.
  Coordinator(CoordinatorConfig cfg, std::unique_ptr<net::Transport> transport, std::unique_ptr<net::Clock> clock,
              const std::atomic<bool>* stop = nullptr);
  ~Coordinator();

  // Runs (or resumes) the run to completion or until the stop token is set.
  RunSummary run();

  // The bound endpoint (with the real port when bound to tcp://*:0).
  std::string endpoint() const;

  // The run being played (valid once run() has opened it; 0 before).
  std::int64_t run_id() const { return run_id_; }

  // Subscribes an observer (not owned; it must outlive run()) to every
  // round's result and end (round_observer.h). Before run().
  void add_observer(RoundObserver* observer);

  // ---- Test seam (fuzzing, unit tests): drive the handlers without the
  // socket loop. open_for_test() opens the run without waiting for clients;
  // handle_frame() treats `frame` as arrived from routing id `peer`
  // authenticated as CURVE public key `key` (Z85; empty when insecure);
  // begin/finish_round_for_test() open a round (all live clients selected)
  // and close it (vote, log, broadcast) without polling. Replies go to the
  // socket as usual (dropped when nobody is connected). Same thread only.
  void open_for_test();
  void handle_frame(const std::string& peer, std::span<const std::uint8_t> frame, const std::string& key = {});
  void begin_round_for_test(std::uint32_t round);
  void finish_round_for_test();
  void poll_for_test(int timeout_ms) { poll_once(timeout_ms); }  // what the transport queued
  // What run() does after the last round: waits (polling) for the last
  // round's EvalReports and writes every pending one (federated_eval.cc).
  void finish_evals_for_test() { finish_evals(); }
  // What poll() does with a transport event (a rejected handshake, a bad
  // multipart message): tallied when unauthenticated, else a rate-limited row.
  void handle_event(const net::TransportEvent& e);

  // Event rows a minute over all sources (EventBudget, docs/security.md):
  // a legitimate run writes a few rows per run; 60 lets three misbehaving
  // sources write at their full per-source rate, and caps the worst case
  // at about 60 x 0.7 kB a minute (60 MB a day) from allowlisted clients alone.
  static constexpr std::uint32_t kEventRowsPerSource = 20;
  static constexpr std::uint32_t kEventRowsGlobal = 60;

 private:

  void open_run();
  void wait_for_clients();
  // The stop token is set (a signal): every wait returns, the run ends 'interrupted'.
  bool stopping() const { return stop_ && stop_->load(); }
  // false: interrupted before the round was logged (it is abandoned, not
  // committed: --resume plays it again).
  bool play_round(std::uint32_t round);
  void begin_round(std::uint32_t round);
  bool finish_round(std::uint32_t round);
  bool poll_once(int timeout_ms);
  bool event_allowed(const std::string& who);
  // Writes the event summaries due (EventBudget::due); flush: all pending, at the end of a run.
  void write_event_summaries(bool flush = false);
  // Counts an unauthenticated failure (EventBudget::tally) after writing the summaries due.
  void tally(const std::string& kind, const std::string& source, const std::string& detail);
  void log_limited(const std::string& who, std::optional<std::uint32_t> client, const std::string& kind,
                   const std::string& detail);
  void report_suspects(const std::vector<SuspicionMonitor::Flag>& flags);
  // Handlers of one verified message; `c` is the client it is attributed to
  // (by routing id and key), nullptr for a stranger.
  // Why a joiner's data (Join.sample_shape, Join.classes) cannot train the
  // run's model, naming both shapes; empty when it fits or is not said.
  std::string data_mismatch(const wire::Join& m) const;
  void on_join(const std::string& peer, const wire::Join& m, const std::string& key, const std::string& listed_name);
  void on_update(const std::string& peer, Client* c, const wire::Update& m, std::size_t frame_bytes);
  // A relay's partial tally for the open round (messages.cc; FORMAT.md "Relays").
  void on_tally_update(const std::string& peer, Client* c, const wire::TallyUpdate& m, std::size_t frame_bytes);
  // What an Update and a TallyUpdate share: a refusal (a bounded number of
  // rows and Error replies per client and round), and the admission checks
  // (the claimed id, the open round, selection, duplicates; false: refused).
  void refuse_update(const std::string& peer, Client& c, UpdateRow& row, wire::ErrorCode code, const std::string& why,
                     const char* status, std::uint32_t round);
  bool admit_to_round(const std::string& peer, Client& c, UpdateRow& row, std::uint32_t round,
                      std::uint32_t claimed_id, const char* what, const char* who);
  void on_snapshot_request(const std::string& peer, Client* c, const wire::SnapshotRequest& m);
  void on_guard_report(const std::string& peer, Client* c, const wire::GuardReport& m);
  void on_skip(const std::string& peer, Client* c, const wire::Skip& m);
  void on_eval_report(const std::string& peer, Client* c, const wire::EvalReport& m);  // federated_eval.cc
  // Federated input statistics (input_stats.cc). federated_stats: the run
  // standardises with --input-stats federated; pending: not fixed yet.
  bool federated_stats() const;
  bool input_stats_pending() const;
  // Why a Join's input moments are refused (bad_value), "" when acceptable:
  // one sum and sum of squares per model input, finite, sums of squares >= 0,
  // count <= Join.samples; required in every Join of a federated run.
  std::string moments_refusal(const wire::Join& m) const;
  // Keeps an admitted client's moments under its name while pending.
  void keep_moments(const std::string& name, const wire::Join& m);
  // Before the first RoundTask: combines the kept moments in name order into
  // the run's per-feature transform, stores it in runs.config and sends
  // InputStats to every connected client. No-op unless pending.
  void fix_input_stats();
  // Whether round's VoteResult asks the clients to evaluate their hold-out
  // (and the central test set is scored): every --eval-every rounds and the last.
  bool eval_round(std::uint32_t round) const;
  // After the last round: waits up to --round-timeout for an EvalReport from
  // every live client (connected, heard within --dead-after; samples 0 counts:
  // no hold-out) if the last round
  // asked for them, then writes the pending reports in their own transaction.
  void finish_evals();
  void on_key_revoked(const std::string& key);
  // The transport dropped this connection for not reading (its queue reached
  // the per-peer bound): its client is disconnected.
  void on_peer_not_reading(const std::string& peer, const std::string& detail);
  // A client that will not answer (Skip, Error, revoked, not reading): marked skipped in the open round
  // if selected and not yet answered, so the round need not wait for it. Returns whether it was.
  bool leave_open_round(std::uint32_t id, const std::string& why);
  void reply_error(const std::string& peer, wire::ErrorCode code, const std::string& text, std::uint32_t round);
  std::size_t send(const std::string& peer, std::span<const std::uint8_t> bytes);
  std::uint64_t send_snapshot(const std::string& peer, std::uint32_t round);
  void broadcast_bye(const std::string& reason);
  std::vector<std::uint32_t> select_participants(std::uint32_t round);
  // Aggregates and applies the counted updates and broadcasts the result;
  // returns how many counted updates the applied step rests on (0: none
  // counted, or the strategy refused the step and the model is unchanged).
  std::size_t aggregate_and_apply(std::uint32_t round, float step, RoundRow& row, std::vector<UpdateRow>& rows);
  std::vector<methods::Counted> collect_counted(RoundRow& row);  // and their bytes and mean loss into row
  // The aggregate's row fields, Byzantine suspicion (votes) and a refused step (events, stderr).
  void record_aggregate(std::uint32_t round, std::span<const methods::Counted> counted, const methods::Aggregate& a,
                        RoundRow& row);
  // The strategy's confirmation of an applied step (guarded step): waits for
  // the `participants`' loss reports, then keeps or rolls back and tells everyone.
  void confirm_step(std::uint32_t round, std::size_t participants, RoundRow& row);
  // Byzantine suspicion for clients behind relays (the agreements their relays reported).
  void record_relayed_agreement(std::uint32_t round);
  void evaluate(RoundRow& row);
  std::optional<std::uint32_t> open_round() const;  // the round collecting updates, if any
  double now_s() const;   // monotonic: deadlines, liveness, rate limits
  double unix_s() const;  // log timestamps

  CoordinatorConfig cfg_;
  const std::atomic<bool>* stop_;
  std::unique_ptr<net::Clock> clock_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<RoundLog> log_;
  std::int64_t run_id_ = 0;
  std::uint32_t first_round_ = 0;
  std::uint32_t next_round_ = 0;  // the round after the last one logged

  std::unique_ptr<model::Model> model_;
  data::Standardisation inputs_;       // the run's input transform (sent in Welcome)
  // Federated input statistics while pending: each client's Join moments by
  // name (at most max_clients entries of 2 x input_size doubles).
  std::map<std::string, data::FeatureMoments> join_moments_;
  std::unique_ptr<core::Replica> replica_;  // views model_->params()
  std::unique_ptr<methods::Strategy> strategy_;  // the method (core/methods/strategy.h)
  std::uint64_t digest_ = 0;
  std::shared_ptr<const data::Dataset> test_;

  ClientRegistry registry_;

  // Current round state.
  std::unique_ptr<RoundState> round_;  // from begin_round to the end of finish_round
  std::uint64_t init_digest_ = 0;          // the seeded initial model: joiners rebuild it from Welcome.seed
  EventBudget event_budget_{kEventRowsPerSource, kEventRowsGlobal};  // event rows; more are summarised
  EventBudget reply_budget_{kEventRowsPerSource, UINT32_MAX};  // Error replies to peers that never joined
  // Joins per CURVE key: a burst of 4 (a board restarting), then one per 4 s
  // (the edge's rejoin timeout), over whatever connections the key uses.
  JoinThrottle join_throttle_{4.0, 4.0};
  ResultRow result_;                     // the open round's result, for the vote log (finish_round)
  bool checkpointed_ = false;            // the log holds a checkpoint of this run (else the next commit writes one)
  std::vector<UpdateRow> pending_rows_;  // late/rejected rows waiting for the next round commit
  // Federated evaluation (federated_eval.cc): accepted reports waiting for the
  // next commit, the rounds that asked for reports, and who answered which
  // (duplicates are refused); both sets keep only the last few rounds.
  std::vector<EvalRow> pending_evals_;
  std::set<std::uint32_t> eval_asked_;
  std::set<std::pair<std::uint32_t, std::uint32_t>> eval_answered_;  // (round, client_id)
  double task_sent_at_ = 0.0;
  std::uint64_t snapshot_bytes_ = 0;
  std::optional<Confirmation> confirming_;  // while a step awaits confirmation (confirm_step)

  LatencyHistory latency_history_;
  double virtual_clock_s_ = 0.0;

  SuspicionMonitor suspicion_;
  std::unique_ptr<ProgressPrinter> progress_;  // unless quiet; the first observer
  std::vector<RoundObserver*> observers_;
  RunSummary summary_;
  std::uint32_t eval_rounds_ = 0;
};

}  // namespace signfed::coord
