#include "tools/sim/sim_db.h"

#include <sqlite3.h>

#include <stdexcept>

namespace signfed::sim {

namespace {
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sim_runs(
  run_id INTEGER PRIMARY KEY, sim_config TEXT NOT NULL, wall_s REAL, peak_rss_kb INTEGER,
  clients_checked INTEGER, digests_equal INTEGER, crashes INTEGER);
CREATE TABLE IF NOT EXISTS sim_clients(
  run_id INTEGER NOT NULL, client INTEGER NOT NULL, samples INTEGER, classes TEXT,
  ms_per_sample REAL, up_mbps REAL, down_mbps REAL, latency_ms REAL, slow INTEGER,
  PRIMARY KEY(run_id, client));
CREATE TABLE IF NOT EXISTS spb(
  run_id INTEGER NOT NULL, round INTEGER NOT NULL, voters INTEGER, samples_per_coord INTEGER, coords INTEGER,
  frac_le_half REAL, mean_rho REAL, l1 REAL, rho_norm REAL, rho_m_norm REAL, full_loss REAL,
  client_frac_le_half REAL, vote_frac_le_half REAL, mean_vote_right REAL, mean_vote_tie REAL, abstain_frac REAL,
  PRIMARY KEY(run_id, round));
CREATE TABLE IF NOT EXISTS rosenbrock(
  exp_id INTEGER NOT NULL, tag TEXT NOT NULL, config TEXT NOT NULL, nodes INTEGER NOT NULL, reps INTEGER NOT NULL,
  iter INTEGER NOT NULL, f_mean REAL NOT NULL, f_se REAL NOT NULL, PRIMARY KEY(exp_id, nodes, iter));
)sql";
}  // namespace

SimDb::SimDb(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  exec("PRAGMA journal_mode=WAL");
  exec(kSchema);
}

SimDb::~SimDb() { sqlite3_close(db_); }

void SimDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(path_ + ": " + msg);
  }
}

void SimDb::begin() { exec("BEGIN IMMEDIATE"); }
void SimDb::commit() { exec("COMMIT"); }

void SimDb::run(const std::string& sql, const std::vector<Value>& values) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_) + " in: " + sql);
  for (std::size_t k = 0; k < values.size(); ++k) {
    const int i = static_cast<int>(k + 1);
    const Value& v = values[k];
    if (v.kind == Value::Kind::i) sqlite3_bind_int64(st, i, v.i);
    else if (v.kind == Value::Kind::d) sqlite3_bind_double(st, i, v.d);
    else sqlite3_bind_text(st, i, v.t.c_str(), static_cast<int>(v.t.size()), SQLITE_TRANSIENT);
  }
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_) + " in: " + sql);
}

std::int64_t SimDb::query_int(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  std::int64_t v = 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

std::string SimDb::query_text(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

std::vector<std::vector<double>> SimDb::query_rows(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(path_ + ": " + sqlite3_errmsg(db_));
  std::vector<std::vector<double>> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<double> r(static_cast<std::size_t>(sqlite3_column_count(st)));
    for (int c = 0; c < sqlite3_column_count(st); ++c) r[static_cast<std::size_t>(c)] = sqlite3_column_double(st, c);
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  return rows;
}

}  // namespace signfed::sim
