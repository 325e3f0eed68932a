#include "tools/sim/sim_db.h"

#include <stdexcept>

#include "coordinator/round_log.h"

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

SQLite::Database open_sim_db(const std::string& path) {
  // The simulator's own tables sit beside the coordinator's in one SQLite file.
  if (coord::is_postgres_url(path))
    throw std::runtime_error("--db " + coord::shown_db(path) +
                             ": signfed-sim logs to a SQLite file only (its sim_* tables live beside the round log); "
                             "pass a .sqlite path. signfed-coordinator --db postgresql://... logs a real federation "
                             "to PostgreSQL (docs/postgresql.md)");
  try {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, /*busy ms=*/10000);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(kSchema);
    return db;
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("cannot open " + path + ": " + e.what());
  }
}

}  // namespace signfed::sim
