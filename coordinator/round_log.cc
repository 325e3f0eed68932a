#include "coordinator/round_log.h"

#include <sqlite3.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>

namespace signfed::coord {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  run_id INTEGER PRIMARY KEY, config TEXT NOT NULL, tag TEXT NOT NULL DEFAULT '',
  started_at REAL NOT NULL, ended_at REAL, status TEXT NOT NULL, rounds_planned INTEGER NOT NULL,
  resumes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS clients(
  run_id INTEGER NOT NULL, client_id INTEGER NOT NULL, name TEXT NOT NULL, platform TEXT, arch TEXT,
  samples INTEGER, data_desc TEXT, joined_at REAL, last_seen REAL, PRIMARY KEY(run_id, client_id));
CREATE TABLE IF NOT EXISTS rounds(
  run_id INTEGER NOT NULL, round INTEGER NOT NULL, started_at REAL, ended_at REAL,
  selected INTEGER, received INTEGER, late INTEGER, dropped INTEGER, rejected INTEGER,
  uplink_bytes INTEGER, downlink_bytes INTEGER, snapshot_bytes INTEGER,
  coords_moved INTEGER, ties INTEGER, margin_hist TEXT,
  train_loss REAL, test_accuracy REAL, test_loss REAL, step_size REAL, guard_kept INTEGER,
  model_digest TEXT, virtual_time_s REAL, refused TEXT, PRIMARY KEY(run_id, round));
CREATE TABLE IF NOT EXISTS updates(
  run_id INTEGER NOT NULL, round INTEGER NOT NULL, client_id INTEGER NOT NULL, bytes INTEGER,
  payload_bytes INTEGER, latency_ms REAL, local_loss REAL, samples INTEGER, status TEXT NOT NULL,
  detail TEXT, agreement REAL);
CREATE INDEX IF NOT EXISTS updates_by_round ON updates(run_id, round);
CREATE TABLE IF NOT EXISTS checkpoints(
  run_id INTEGER NOT NULL, round INTEGER NOT NULL, digest TEXT NOT NULL, params BLOB NOT NULL,
  momentum BLOB, keep INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(run_id, round));
CREATE TABLE IF NOT EXISTS events(
  run_id INTEGER, t REAL, client_id INTEGER, kind TEXT NOT NULL, detail TEXT);
)sql";

// Prepared statement with RAII and one-line binders; throws via the owner.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) throw LogError(sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(s_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind_blob(int i, const void* p, std::size_t n) {
    return check(sqlite3_bind_blob64(s_, i, n ? p : "", n, SQLITE_TRANSIENT));
  }
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    if (!v) return check(sqlite3_bind_null(s_, i));
    if constexpr (std::is_same_v<T, bool>) return bind(i, std::int64_t{*v ? 1 : 0});
    else return bind(i, *v);
  }
  // Steps once; true while a row is available.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw LogError(sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void run() {
    while (step()) {
    }
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  double f64(int c) { return sqlite3_column_double(s_, c); }
  std::string text(int c) {
    const auto* t = sqlite3_column_text(s_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  std::vector<float> floats(int c) {
    const int n = sqlite3_column_bytes(s_, c);
    std::vector<float> v(static_cast<std::size_t>(n) / sizeof(float));
    if (n > 0) std::memcpy(v.data(), sqlite3_column_blob(s_, c), v.size() * sizeof(float));
    return v;
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) throw LogError(sqlite3_errmsg(db_));
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
};

std::uint64_t parse_hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

}  // namespace

std::string digest_hex(std::uint64_t d) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, d);
  return buf;
}

RoundLog::RoundLog(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw LogError("cannot open round log " + path + ": " + msg + " (check the directory exists and is writable)");
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    {
      Stmt q(db_, "PRAGMA quick_check");
      if (q.step() && q.text(0) != "ok") fail("integrity check failed: " + q.text(0));
    }
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    exec("BEGIN IMMEDIATE");
    exec(kSchema);
    add_missing_columns();
    Stmt v(db_, "SELECT value FROM meta WHERE key='schema_version'");
    if (v.step()) {
      const int have = std::atoi(v.text(0).c_str());
      if (have != kLogSchemaVersion)
        fail("schema version " + std::to_string(have) + ", this build writes version " +
             std::to_string(kLogSchemaVersion) + "; use a new --db file");
    } else {
      Stmt ins(db_, "INSERT INTO meta(key, value) VALUES('schema_version', ?)");
      ins.bind(1, std::to_string(kLogSchemaVersion)).run();
    }
    exec("COMMIT");
  } catch (const LogError& e) {
    std::string msg = e.what();
    const int code = sqlite3_errcode(db_) & 0xff;
    sqlite3_close(db_);
    db_ = nullptr;
    if (msg.rfind("round log ", 0) == 0) throw;
    std::string hint = " (is it a signfed SQLite file? move it away or pass another --db)";
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
      hint = " (the file or its directory is not writable: a WAL database needs write access to both)";
    if (code == SQLITE_FULL) hint = " (the disk is full: free space and rerun)";
    throw LogError("round log " + path + ": " + msg + hint);
  }
}

// Columns added after schema version 1 shipped: a database written before
// gets them (NULL in its old rows), so old logs stay readable and resumable.
void RoundLog::add_missing_columns() {
  bool has_refused = false;
  {
    Stmt cols(db_, "PRAGMA table_info(rounds)");
    while (cols.step()) has_refused = has_refused || cols.text(1) == "refused";
  }
  if (!has_refused) exec("ALTER TABLE rounds ADD COLUMN refused TEXT");
}

RoundLog::~RoundLog() {
  if (db_) sqlite3_close(db_);
}

void RoundLog::set_max_pages(std::uint32_t max_pages) {
  if (max_pages == 0) return;
  const std::string sql = "PRAGMA max_page_count=" + std::to_string(max_pages);
  exec(sql.c_str());
}

void RoundLog::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    fail(msg);
  }
}

void RoundLog::fail(const std::string& what) const {
  std::string hint;
  const int code = db_ ? sqlite3_errcode(db_) & 0xff : 0;
  if (code == SQLITE_FULL) hint = " (the disk is full: free space and rerun with --resume)";
  if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN) hint = " (the file or its directory is not writable)";
  throw LogError("round log " + path_ + ": " + what + hint);
}

std::int64_t RoundLog::begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag) {
  try {
    Stmt s(db_,
           "INSERT INTO runs(config, tag, started_at, status, rounds_planned) "
           "VALUES(?, ?, (julianday('now') - 2440587.5) * 86400.0, 'running', ?)");
    s.bind(1, config_json).bind(2, tag).bind(3, std::int64_t{rounds_planned}).run();
    return sqlite3_last_insert_rowid(db_);
  } catch (const LogError& e) {
    fail(e.what());
  }
}

std::optional<ResumePoint> RoundLog::find_resumable() {
  try {
    Stmt r(db_, "SELECT run_id, config FROM runs WHERE status != 'completed' ORDER BY run_id DESC LIMIT 1");
    if (!r.step()) return std::nullopt;
    ResumePoint p;
    p.run_id = r.i64(0);
    p.config_json = r.text(1);
    Stmt c(db_,
           "SELECT round, digest, params, momentum FROM checkpoints WHERE run_id=? ORDER BY round DESC LIMIT 1");
    c.bind(1, p.run_id);
    if (c.step()) {
      p.checkpoint.round = c.i64(0);
      p.checkpoint.digest = parse_hex(c.text(1));
      p.checkpoint.params = c.floats(2);
      p.checkpoint.momentum = c.floats(3);
    }
    Stmt vt(db_, "SELECT COALESCE(MAX(virtual_time_s), 0) FROM rounds WHERE run_id=?");
    vt.bind(1, p.run_id);
    if (vt.step()) p.virtual_time_s = vt.f64(0);
    Stmt cl(db_, "SELECT client_id, name, platform, arch, samples, data_desc FROM clients WHERE run_id=?");
    cl.bind(1, p.run_id);
    while (cl.step()) {
      ClientRow row;
      row.client_id = static_cast<std::uint32_t>(cl.i64(0));
      row.name = cl.text(1);
      row.platform = cl.text(2);
      row.arch = cl.text(3);
      row.samples = static_cast<std::uint64_t>(cl.i64(4));
      row.data_desc = cl.text(5);
      p.clients.push_back(std::move(row));
    }
    return p;
  } catch (const LogError& e) {
    fail(e.what());
  }
}

void RoundLog::mark_resumed(std::int64_t run_id) {
  try {
    Stmt s(db_, "UPDATE runs SET status='running', resumes=resumes+1 WHERE run_id=?");
    s.bind(1, run_id).run();
  } catch (const LogError& e) {
    fail(e.what());
  }
}

void RoundLog::upsert_client(std::int64_t run_id, const ClientRow& c, double now) {
  try {
    Stmt s(db_,
           "INSERT INTO clients(run_id, client_id, name, platform, arch, samples, data_desc, joined_at, last_seen) "
           "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, client_id) DO UPDATE SET platform=excluded.platform, "
           "arch=excluded.arch, samples=excluded.samples, data_desc=excluded.data_desc, last_seen=excluded.last_seen");
    s.bind(1, run_id).bind(2, std::int64_t{c.client_id}).bind(3, c.name).bind(4, c.platform).bind(5, c.arch);
    s.bind(6, static_cast<std::int64_t>(c.samples)).bind(7, c.data_desc).bind(8, now).bind(9, now).run();
  } catch (const LogError& e) {
    fail(e.what());
  }
}

void RoundLog::touch_client(std::int64_t run_id, std::uint32_t client_id, double now) {
  try {
    Stmt s(db_, "UPDATE clients SET last_seen=? WHERE run_id=? AND client_id=?");
    s.bind(1, now).bind(2, run_id).bind(3, std::int64_t{client_id}).run();
  } catch (const LogError& e) {
    fail(e.what());
  }
}

void RoundLog::log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id,
                         const std::string& kind, const std::string& detail) {
  try {
    Stmt s(db_, "INSERT INTO events(run_id, t, client_id, kind, detail) VALUES(?,?,?,?,?)");
    std::optional<std::int64_t> cid;
    if (client_id) cid = *client_id;
    s.bind(1, run_id).bind(2, now).bind(3, cid).bind(4, kind).bind(5, detail).run();
  } catch (const LogError& e) {
    fail(e.what());
  }
}

void RoundLog::commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                            const Checkpoint& ckpt, bool keep_checkpoint_history) {
  try {
    exec("BEGIN IMMEDIATE");
    {
      Stmt s(db_,
             "INSERT INTO rounds(run_id, round, started_at, ended_at, selected, received, late, dropped, rejected, "
             "uplink_bytes, downlink_bytes, snapshot_bytes, coords_moved, ties, margin_hist, train_loss, "
             "test_accuracy, test_loss, step_size, guard_kept, model_digest, virtual_time_s, refused) "
             "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      s.bind(1, run_id).bind(2, std::int64_t{r.round}).bind(3, r.started_at).bind(4, r.ended_at);
      s.bind(5, std::int64_t{r.selected}).bind(6, std::int64_t{r.received}).bind(7, std::int64_t{r.late});
      s.bind(8, std::int64_t{r.dropped}).bind(9, std::int64_t{r.rejected});
      s.bind(10, static_cast<std::int64_t>(r.uplink_bytes)).bind(11, static_cast<std::int64_t>(r.downlink_bytes));
      s.bind(12, static_cast<std::int64_t>(r.snapshot_bytes)).bind(13, static_cast<std::int64_t>(r.coords_moved));
      s.bind(14, static_cast<std::int64_t>(r.ties)).bind(15, r.margin_hist).bind(16, r.train_loss);
      s.bind(17, r.test_accuracy).bind(18, r.test_loss).bind(19, r.step_size).bind(20, r.guard_kept);
      s.bind(21, digest_hex(r.model_digest)).bind(22, r.virtual_time_s).bind(23, r.refused).run();
    }
    {
      Stmt s(db_,
             "INSERT INTO updates(run_id, round, client_id, bytes, payload_bytes, latency_ms, local_loss, samples, "
             "status, detail, agreement) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
      for (const UpdateRow& u : updates) {
        s.reset();
        s.bind(1, run_id).bind(2, std::int64_t{u.round}).bind(3, std::int64_t{u.client_id});
        s.bind(4, static_cast<std::int64_t>(u.bytes)).bind(5, static_cast<std::int64_t>(u.payload_bytes));
        s.bind(6, u.latency_ms).bind(7, u.local_loss).bind(8, std::int64_t{u.samples}).bind(9, u.status);
        s.bind(10, u.detail).bind(11, u.agreement).run();
      }
    }
    {
      Stmt prune(db_, "DELETE FROM checkpoints WHERE run_id=? AND keep=0");
      prune.bind(1, run_id).run();
      Stmt s(db_,
             "INSERT OR REPLACE INTO checkpoints(run_id, round, digest, params, momentum, keep) VALUES(?,?,?,?,?,?)");
      s.bind(1, run_id).bind(2, ckpt.round).bind(3, digest_hex(ckpt.digest));
      s.bind_blob(4, ckpt.params.data(), ckpt.params.size() * sizeof(float));
      s.bind_blob(5, ckpt.momentum.data(), ckpt.momentum.size() * sizeof(float));
      s.bind(6, std::int64_t{keep_checkpoint_history ? 1 : 0}).run();
    }
    exec("COMMIT");
  } catch (const LogError& e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    fail(std::string("cannot log round ") + std::to_string(r.round) + ": " + e.what());
  }
}

void RoundLog::end_run(std::int64_t run_id, const std::string& status) {
  try {
    Stmt s(db_, "UPDATE runs SET status=?, ended_at=(julianday('now') - 2440587.5) * 86400.0 WHERE run_id=?");
    s.bind(1, status).bind(2, run_id).run();
  } catch (const LogError& e) {
    fail(e.what());
  }
}

}  // namespace signfed::coord
