// RoundLog: the coordinator's record of a run (schema in README, "SQLite
// round log"; version in meta.schema_version), in a SQLite file (the embedded
// default) or, when the --db string is a postgresql:// or postgres:// URL, in
// a PostgreSQL database (docs/postgresql.md): the same tables and columns
// (coordinator/log_schema.h), the same guarantees below.
//
// One transaction per round: the round row, its update rows and the round's
// result (the vote log: the VoteResult packet, step, momentum, whether it was
// applied, the digest after it) commit together, with a full model checkpoint
// only every --checkpoint-every rounds, at the first commit and at the last
// round. A crash leaves either the whole round or none of it; --resume
// restores the last checkpoint and replays the logged results after it
// (core/replica/replay.h), so it continues after the last logged round without
// losing or duplicating one. SQLite: WAL mode; synchronous=NORMAL.
// PostgreSQL: the server's own durability (synchronous_commit as configured);
// checkpoints and result packets travel as binary bytea parameters.
//
// Errors (cannot open, not a database, corrupt, locked, read-only, disk full;
// PostgreSQL: bad URL, server unreachable, authentication, no such database,
// connection lost, wrong schema) throw LogError with a message that names the
// file or server and says what to do. Not thread-safe: owned by the
// coordinator's round thread. SQLite access goes through SQLiteCpp, PostgreSQL
// through libpq (log_backend.h: nothing of either in this header).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/replica/replay.h"

namespace signfed::coord {

class LogBackend;

// Whether a --db string names a PostgreSQL database (postgresql://... or
// postgres://...) rather than a SQLite file.
bool is_postgres_url(const std::string& db);
// db for messages: a URL's password replaced by ***; a file path as is.
std::string shown_db(const std::string& db);

class LogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kLogSchemaVersion = 1;

struct ClientRow {
  std::uint32_t client_id = 0;
  std::string name, platform, arch, data_desc;
  std::uint64_t samples = 0;
  std::string key;            // the CURVE public key (Z85) the name is bound to; "" in plaintext
};

struct UpdateRow {
  std::uint32_t round = 0;  // the round the update was for
  std::uint32_t client_id = 0;
  std::uint64_t bytes = 0;          // whole Update frame on the wire
  std::uint64_t payload_bytes = 0;  // encoded sign packet payload
  double latency_ms = 0.0;          // task sent -> update received
  double local_loss = 0.0;
  std::uint32_t samples = 0;
  std::string status;               // counted | late | rejected | skipped
  std::string detail;
  std::optional<double> agreement;  // fraction of its votes that matched the outcome
};

struct RoundRow {
  std::uint32_t round = 0;
  double started_at = 0.0, ended_at = 0.0;  // unix seconds
  std::uint32_t selected = 0, received = 0, late = 0, dropped = 0, rejected = 0;
  std::uint64_t uplink_bytes = 0, downlink_bytes = 0, snapshot_bytes = 0;
  std::uint64_t coords_moved = 0, ties = 0;
  std::string margin_hist;          // JSON array
  std::optional<double> train_loss, test_accuracy, test_loss;
  double step_size = 0.0;
  std::optional<bool> guard_kept;
  std::uint64_t model_digest = 0;
  double virtual_time_s = 0.0;      // simulated clock, 0 when not simulating
  std::optional<std::string> refused;  // why the round's step was not applied (Aggregate::refused); NULL: applied
};

// One client's federated evaluation (an EvalReport): its hold-out scored with
// the model after `round`. The round's aggregate (rounds.fed_*) is the
// sample-weighted mean over every row of the round, recomputed whenever rows land.
struct EvalRow {
  std::uint32_t round = 0;          // the evaluated model is the one after this round
  std::uint32_t client_id = 0;
  double loss = 0.0;                // mean cross-entropy over the hold-out
  double accuracy = 0.0;            // fraction in [0, 1]
  std::uint64_t samples = 0;        // hold-out size, > 0
};

struct Checkpoint {
  std::int64_t round = -1;          // model state after this round
  std::uint64_t digest = 0;
  std::vector<float> params;
  std::vector<float> momentum;      // empty unless signum
};

// One round's result as every replica applied it (table results).
using ResultRow = core::LoggedResult;

struct ResumePoint {
  std::int64_t run_id = 0;
  std::string config_json;
  Checkpoint checkpoint;            // round -1 and empty params: nothing logged yet
  std::int64_t last_round = -1;     // the last logged round (rounds table); -1: none
  std::vector<ResultRow> results;   // logged results of the rounds after the checkpoint, by round
  std::vector<ClientRow> clients;
  double virtual_time_s = 0.0;      // simulated clock after the last logged round
};

class RoundLog {
 public:
  // Opens (creating if needed) the database at path (a SQLite file, or a
  // postgresql:// URL: connects and creates the tables if needed) and checks
  // its integrity and schema version.
  explicit RoundLog(const std::string& path);
  ~RoundLog();
  RoundLog(const RoundLog&) = delete;
  RoundLog& operator=(const RoundLog&) = delete;

  const std::string& path() const { return path_; }  // shown_db(path)

  // Caps the database at max_pages pages (PRAGMA max_page_count): writes
  // beyond fail as on a full disk. Testing aid; 0 leaves SQLite's default.
  // No effect on PostgreSQL.
  void set_max_pages(std::uint32_t max_pages);

  // Starts a new run; returns its run_id.
  std::int64_t begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag);
  // Replaces runs.config of run_id: what a run decides after it opened (the
  // federated input statistics, fixed when the clients have joined).
  void update_config(std::int64_t run_id, const std::string& config_json);
  // The latest run that did not complete, with its last checkpoint; nullopt if none.
  std::optional<ResumePoint> find_resumable();
  void mark_resumed(std::int64_t run_id);

  void upsert_client(std::int64_t run_id, const ClientRow& c, double now);
  void touch_client(std::int64_t run_id, std::uint32_t client_id, double now);
  void log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id, const std::string& kind,
                 const std::string& detail);

  // The round transaction: the round row, its updates, the result (nullptr:
  // none) and the checkpoint (nullptr: none this round). A checkpoint first
  // prunes the earlier ones not kept; keep_checkpoint_history keeps this one
  // when later checkpoints are written (every --checkpoint-every rounds).
  // evals: the EvalReports that arrived since the last commit (for earlier
  // rounds: their rows, and an UPDATE of those rounds' fed_* aggregates, in
  // this same transaction).
  void commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                    const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                    const std::vector<EvalRow>& evals = {});
  // A checkpoint every round and no result (the log before the vote log).
  void commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                    const Checkpoint& ckpt, bool keep_checkpoint_history, const std::vector<EvalRow>& evals = {}) {
    commit_round(run_id, r, updates, nullptr, &ckpt, keep_checkpoint_history, evals);
  }
  // The last round's EvalReports, which arrive after its commit: their own
  // transaction, rows and aggregates as in commit_round.
  void commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals);

  void end_run(std::int64_t run_id, const std::string& status);
  // The sample-weighted federated hold-out accuracy of the run's last
  // evaluated round (rounds.fed_accuracy), if any client reported one.
  std::optional<double> last_fed_accuracy(std::int64_t run_id);

 private:
  std::string path_;
  std::unique_ptr<LogBackend> impl_;
};

std::string digest_hex(std::uint64_t d);

}  // namespace signfed::coord
