// The SQLite round log (round_log.h): one file, WAL mode,
// synchronous=NORMAL, through SQLiteCpp; tables from log_schema.h, plus the
// columns added since schema version 1 for files written before them.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <SQLiteCpp/VariadicBind.h>
#include <sqlite3.h>  // result codes (SQLITE_FULL ...) only

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "coordinator/log_backend.h"
#include "coordinator/log_schema.h"

namespace signfed::coord {
namespace {

// SQLite result codes (primary: SQLITE_FULL also for its extended forms) and
// what the user can do about each.
int result_code(const SQLite::Exception& e) { return e.getErrorCode() & 0xff; }

std::string advice(int code) {
  switch (code) {
    case SQLITE_FULL: return " (the disk is full: free space and rerun with --resume)";
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM: return " (the file or its directory is not writable: a WAL database needs write access to both)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return " (another process is writing it: stop that process or pass another --db)";
    default: return "";
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& what, int code) {
  throw LogError("round log " + path + ": " + what + advice(code));
}

void bind(SQLite::Statement& s, int i, const std::optional<double>& v) {
  if (v) s.bind(i, *v);
  else s.bind(i);  // NULL
}
void bind(SQLite::Statement& s, int i, const std::optional<bool>& v) {
  if (v) s.bind(i, std::int64_t{*v ? 1 : 0});
  else s.bind(i);
}
// A float vector as a BLOB; empty is a zero-length BLOB, not NULL (checkpoints.params is NOT NULL).
void bind(SQLite::Statement& s, int i, const std::vector<float>& v) {
  const std::size_t n = v.size() * sizeof(float);
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw SQLite::Exception("checkpoint of " + std::to_string(n) + " bytes is larger than a SQLite BLOB may be",
                            SQLITE_TOOBIG);
  s.bind(i, n ? static_cast<const void*>(v.data()) : "", static_cast<int>(n));
}

std::string text(const SQLite::Statement& s, int c) { return s.getColumn(c).getText(); }  // NULL: ""

std::vector<float> floats(const SQLite::Statement& s, int c) {
  const SQLite::Column col = s.getColumn(c);
  std::vector<float> v(static_cast<std::size_t>(col.getBytes()) / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), col.getBlob(), v.size() * sizeof(float));
  return v;
}

// EvalReport rows and their rounds' aggregates, inside the caller's
// transaction. The aggregate is recomputed from every row of the round, so
// reports of one round that land with different commits still add up.
void write_evals(SQLite::Database& db, std::int64_t run_id, const std::vector<EvalRow>& evals) {
  if (evals.empty()) return;
  SQLite::Statement ins(db, "INSERT INTO client_evals(run_id, round, client_id, loss, accuracy, samples) "
                            "VALUES(?,?,?,?,?,?)");
  SQLite::Statement agg(db,
                        "UPDATE rounds SET (fed_loss, fed_accuracy, fed_samples) = "
                        "(SELECT SUM(loss * samples) / SUM(samples), SUM(accuracy * samples) / SUM(samples), "
                        "SUM(samples) FROM client_evals WHERE run_id=?1 AND round=?2) WHERE run_id=?1 AND round=?2");
  std::vector<std::uint32_t> rounds;
  for (const EvalRow& e : evals) {
    ins.reset();
    SQLite::bind(ins, run_id, std::int64_t{e.round}, std::int64_t{e.client_id}, e.loss, e.accuracy, log_counter(e.samples));
    ins.exec();
    if (std::find(rounds.begin(), rounds.end(), e.round) == rounds.end()) rounds.push_back(e.round);
  }
  for (std::uint32_t r : rounds) {
    agg.reset();
    SQLite::bind(agg, run_id, std::int64_t{r});
    agg.exec();
  }
}

class SqliteLog final : public LogBackend {
 public:
  explicit SqliteLog(const std::string& path);
  void set_max_pages(std::uint32_t max_pages) override;
  std::int64_t begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag) override;
  void update_config(std::int64_t run_id, const std::string& config_json) override;
  std::optional<ResumePoint> find_resumable() override;
  void mark_resumed(std::int64_t run_id) override;
  void upsert_client(std::int64_t run_id, const ClientRow& c, double now) override;
  void touch_client(std::int64_t run_id, std::uint32_t client_id, double now) override;
  void log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id, const std::string& kind,
                 const std::string& detail) override;
  void commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                    const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                    const std::vector<EvalRow>& evals) override;
  void commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) override;
  void end_run(std::int64_t run_id, const std::string& status) override;
  std::optional<double> last_fed_accuracy(std::int64_t run_id) override;

 private:
  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

SqliteLog::SqliteLog(const std::string& path) : path_(path) {
  try {
    db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, /*busy ms=*/5000);
  } catch (const SQLite::Exception& e) {
    throw LogError("cannot open round log " + path + ": " + e.what() + " (check the directory exists and is writable)");
  }
  try {
    {
      SQLite::Statement q(*db_, "PRAGMA quick_check");
      if (q.executeStep() && text(q, 0) != "ok")
        throw LogError("round log " + path + ": integrity check failed: " + text(q, 0));
    }
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=NORMAL");
    db_->exec("PRAGMA foreign_keys=ON");
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    db_->exec(log_schema_sql(SqlDialect::sqlite));
    // Columns added after schema version 1 shipped: a database written before
    // gets them (defaults in its old rows), so old logs stay readable and resumable.
    const auto add_column = [&](const char* table, const char* column, const std::string& decl) {
      if (db_->execAndGet(std::string("SELECT COUNT(*) FROM pragma_table_info('") + table + "') WHERE name='" +
                          column + "'").getInt() == 0)
        db_->exec(std::string("ALTER TABLE ") + table + " ADD COLUMN " + column + " " + decl);
    };
    add_column("clients", "key", "TEXT NOT NULL DEFAULT ''");  // the CURVE key a name is bound to
    add_column("rounds", "refused", "TEXT");                   // why a step was not applied
    // Federated evaluation: sample-weighted over the round's client_evals rows; NULL: no reports.
    add_column("rounds", "fed_loss", "REAL");
    add_column("rounds", "fed_accuracy", "REAL");
    add_column("rounds", "fed_samples", "INTEGER");
    SQLite::Statement v(*db_, "SELECT value FROM meta WHERE key='schema_version'");
    if (v.executeStep()) {
      const int have = std::atoi(text(v, 0).c_str());
      if (have != kLogSchemaVersion)
        throw LogError("round log " + path + ": schema version " + std::to_string(have) + ", this build writes version " +
                       std::to_string(kLogSchemaVersion) + "; use a new --db file");
    } else {
      SQLite::Statement ins(*db_, "INSERT INTO meta(key, value) VALUES('schema_version', ?)");
      ins.bind(1, std::to_string(kLogSchemaVersion));
      ins.exec();
    }
    tx.commit();
  } catch (const SQLite::Exception& e) {
    const int code = result_code(e);
    const std::string hint = advice(code);
    throw LogError("round log " + path + ": " + e.what() +
                   (hint.empty() ? " (is it a signfed SQLite file? move it away or pass another --db)" : hint));
  }
}

void SqliteLog::set_max_pages(std::uint32_t max_pages) {
  if (max_pages == 0) return;
  try {
    db_->exec("PRAGMA max_page_count=" + std::to_string(max_pages));
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

std::int64_t SqliteLog::begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag) {
  try {
    SQLite::Statement s(*db_,
                        "INSERT INTO runs(config, tag, started_at, status, rounds_planned) "
                        "VALUES(?, ?, (julianday('now') - 2440587.5) * 86400.0, 'running', ?)");
    s.bind(1, config_json);
    s.bind(2, tag);
    s.bind(3, std::int64_t{rounds_planned});
    s.exec();
    return db_->getLastInsertRowid();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::update_config(std::int64_t run_id, const std::string& config_json) {
  try {
    SQLite::Statement s(*db_, "UPDATE runs SET config=? WHERE run_id=?");
    s.bind(1, config_json);
    s.bind(2, run_id);
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

std::optional<ResumePoint> SqliteLog::find_resumable() {
  try {
    SQLite::Statement r(*db_, "SELECT run_id, config FROM runs WHERE status != 'completed' ORDER BY run_id DESC LIMIT 1");
    if (!r.executeStep()) return std::nullopt;
    ResumePoint p;
    p.run_id = r.getColumn(0).getInt64();
    p.config_json = text(r, 1);
    SQLite::Statement c(*db_,
                        "SELECT round, digest, params, momentum FROM checkpoints WHERE run_id=? ORDER BY round DESC LIMIT 1");
    c.bind(1, p.run_id);
    if (c.executeStep()) {
      p.checkpoint.round = c.getColumn(0).getInt64();
      p.checkpoint.digest = parse_digest_hex(text(c, 1));
      p.checkpoint.params = floats(c, 2);
      p.checkpoint.momentum = floats(c, 3);
    }
    SQLite::Statement lr(*db_, "SELECT COALESCE(MAX(round), -1) FROM rounds WHERE run_id=?");
    lr.bind(1, p.run_id);
    if (lr.executeStep()) p.last_round = lr.getColumn(0).getInt64();
    SQLite::Statement res(*db_, "SELECT round, packet, step, momentum, applied, digest FROM results "
                                "WHERE run_id=? AND round>? ORDER BY round");
    res.bind(1, p.run_id);
    res.bind(2, p.checkpoint.round);
    while (res.executeStep()) {
      ResultRow row;
      row.round = static_cast<std::uint32_t>(res.getColumn(0).getInt64());
      const SQLite::Column blob = res.getColumn(1);
      const auto* b = static_cast<const std::uint8_t*>(blob.getBlob());
      row.packet.assign(b, b + blob.getBytes());
      row.step = static_cast<float>(res.getColumn(2).getDouble());
      row.momentum = static_cast<float>(res.getColumn(3).getDouble());
      row.applied = res.getColumn(4).getInt64() != 0;
      row.digest = parse_digest_hex(text(res, 5));
      p.results.push_back(std::move(row));
    }
    SQLite::Statement vt(*db_, "SELECT COALESCE(MAX(virtual_time_s), 0) FROM rounds WHERE run_id=?");
    vt.bind(1, p.run_id);
    if (vt.executeStep()) p.virtual_time_s = vt.getColumn(0).getDouble();
    SQLite::Statement cl(*db_, "SELECT client_id, name, platform, arch, samples, data_desc, key FROM clients WHERE run_id=?");
    cl.bind(1, p.run_id);
    while (cl.executeStep()) {
      ClientRow row;
      row.client_id = static_cast<std::uint32_t>(cl.getColumn(0).getInt64());
      row.name = text(cl, 1);
      row.platform = text(cl, 2);
      row.arch = text(cl, 3);
      row.samples = cl.getColumn(4).getInt64() > 0 ? static_cast<std::uint64_t>(cl.getColumn(4).getInt64()) : 0;  // negative legacy value: unknown
      row.data_desc = text(cl, 5);
      row.key = text(cl, 6);
      p.clients.push_back(std::move(row));
    }
    return p;
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::mark_resumed(std::int64_t run_id) {
  try {
    SQLite::Statement s(*db_, "UPDATE runs SET status='running', resumes=resumes+1 WHERE run_id=?");
    s.bind(1, run_id);
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::upsert_client(std::int64_t run_id, const ClientRow& c, double now) {
  try {
    SQLite::Statement s(
        *db_,
        "INSERT INTO clients(run_id, client_id, name, platform, arch, samples, data_desc, joined_at, last_seen, key) "
        "VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, client_id) DO UPDATE SET platform=excluded.platform, "
        "arch=excluded.arch, samples=excluded.samples, data_desc=excluded.data_desc, last_seen=excluded.last_seen, "
        "key=excluded.key");
    SQLite::bind(s, run_id, std::int64_t{c.client_id}, c.name, c.platform, c.arch, log_counter(c.samples),
                 c.data_desc, now, now, c.key);
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::touch_client(std::int64_t run_id, std::uint32_t client_id, double now) {
  try {
    SQLite::Statement s(*db_, "UPDATE clients SET last_seen=? WHERE run_id=? AND client_id=?");
    SQLite::bind(s, now, run_id, std::int64_t{client_id});
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id,
                         const std::string& kind, const std::string& detail) {
  try {
    SQLite::Statement s(*db_, "INSERT INTO events(run_id, t, client_id, kind, detail) VALUES(?,?,?,?,?)");
    SQLite::bind(s, run_id, now);
    if (client_id) s.bind(3, std::int64_t{*client_id});  // else NULL
    s.bind(4, kind);
    s.bind(5, detail);
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

void SqliteLog::commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                            const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                            const std::vector<EvalRow>& evals) {
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);  // rolls back unless committed
    {
      SQLite::Statement s(
          *db_,
          "INSERT INTO rounds(run_id, round, started_at, ended_at, selected, received, late, dropped, rejected, "
          "uplink_bytes, downlink_bytes, snapshot_bytes, coords_moved, ties, margin_hist, train_loss, "
          "test_accuracy, test_loss, step_size, guard_kept, model_digest, virtual_time_s, refused) "
          "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      SQLite::bind(s, run_id, std::int64_t{r.round}, r.started_at, r.ended_at, std::int64_t{r.selected},
                   std::int64_t{r.received}, std::int64_t{r.late}, std::int64_t{r.dropped}, std::int64_t{r.rejected},
                   log_counter(r.uplink_bytes), log_counter(r.downlink_bytes),
                   log_counter(r.snapshot_bytes), log_counter(r.coords_moved),
                   log_counter(r.ties), r.margin_hist);
      bind(s, 16, r.train_loss);
      bind(s, 17, r.test_accuracy);
      bind(s, 18, r.test_loss);
      s.bind(19, r.step_size);
      bind(s, 20, r.guard_kept);
      s.bind(21, digest_hex(r.model_digest));
      s.bind(22, r.virtual_time_s);
      if (r.refused) s.bind(23, *r.refused);
      else s.bind(23);  // NULL: the step was applied
      s.exec();
    }
    {
      SQLite::Statement s(*db_,
                          "INSERT INTO updates(run_id, round, client_id, bytes, payload_bytes, latency_ms, local_loss, "
                          "samples, status, detail, agreement) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
      for (const UpdateRow& u : updates) {
        s.reset();
        s.clearBindings();
        SQLite::bind(s, run_id, std::int64_t{u.round}, std::int64_t{u.client_id}, log_counter(u.bytes),
                     log_counter(u.payload_bytes), u.latency_ms, u.local_loss, std::int64_t{u.samples},
                     u.status, u.detail);
        bind(s, 11, u.agreement);
        s.exec();
      }
    }
    if (result) {
      const std::vector<std::uint8_t>& pk = result->packet;
      if (pk.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw SQLite::Exception("result packet of " + std::to_string(pk.size()) + " bytes is larger than a SQLite BLOB may be",
                                SQLITE_TOOBIG);
      SQLite::Statement s(*db_, "INSERT INTO results(run_id, round, packet, step, momentum, applied, digest) "
                                "VALUES(?,?,?,?,?,?,?)");
      SQLite::bind(s, run_id, std::int64_t{result->round});
      s.bind(3, pk.empty() ? static_cast<const void*>("") : static_cast<const void*>(pk.data()), static_cast<int>(pk.size()));
      s.bind(4, static_cast<double>(result->step));
      s.bind(5, static_cast<double>(result->momentum));
      s.bind(6, std::int64_t{result->applied ? 1 : 0});
      s.bind(7, digest_hex(result->digest));
      s.exec();
    }
    if (ckpt) {
      SQLite::Statement prune(*db_, "DELETE FROM checkpoints WHERE run_id=? AND keep=0");
      prune.bind(1, run_id);
      prune.exec();
      SQLite::Statement s(
          *db_, "INSERT OR REPLACE INTO checkpoints(run_id, round, digest, params, momentum, keep) VALUES(?,?,?,?,?,?)");
      SQLite::bind(s, run_id, ckpt->round, digest_hex(ckpt->digest));
      bind(s, 4, ckpt->params);
      bind(s, 5, ckpt->momentum);
      s.bind(6, std::int64_t{keep_checkpoint_history ? 1 : 0});
      s.exec();
    }
    write_evals(*db_, run_id, evals);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    fail(path_, "cannot log round " + std::to_string(r.round) + ": " + e.what(), result_code(e));
  }
}

void SqliteLog::commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) {
  try {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    write_evals(*db_, run_id, evals);
    tx.commit();
  } catch (const SQLite::Exception& e) {
    fail(path_, std::string("cannot log the last round's evaluations: ") + e.what(), result_code(e));
  }
}

std::optional<double> SqliteLog::last_fed_accuracy(std::int64_t run_id) {
  try {
    SQLite::Statement q(*db_, "SELECT fed_accuracy FROM rounds WHERE run_id=? AND fed_samples > 0 "
                              "ORDER BY round DESC LIMIT 1");
    q.bind(1, run_id);
    if (q.executeStep() && !q.getColumn(0).isNull()) return q.getColumn(0).getDouble();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
  return std::nullopt;
}

void SqliteLog::end_run(std::int64_t run_id, const std::string& status) {
  try {
    SQLite::Statement s(*db_, "UPDATE runs SET status=?, ended_at=(julianday('now') - 2440587.5) * 86400.0 WHERE run_id=?");
    SQLite::bind(s, status, run_id);
    s.exec();
  } catch (const SQLite::Exception& e) {
    fail(path_, e.what(), result_code(e));
  }
}

}  // namespace

std::unique_ptr<LogBackend> open_sqlite_log(const std::string& path) { return std::make_unique<SqliteLog>(path); }

}  // namespace signfed::coord
