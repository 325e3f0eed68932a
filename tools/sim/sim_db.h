// The simulator's own SQLite tables, next to the coordinator's in the same
// file (schema in docs/simulation.md, "Log tables"):
//   sim_runs(run_id, sim_config JSON, wall_s, peak_rss_kb, clients_checked, digests_equal, crashes)
//   sim_clients(run_id, client, samples, classes JSON, ms_per_sample, up_mbps, down_mbps, latency_ms, slow)
//   spb(run_id, round, voters, samples_per_coord, coords, frac_le_half, mean_rho, l1, rho_norm, rho_m_norm, full_loss,
//       client_frac_le_half, vote_frac_le_half, mean_vote_right, mean_vote_tie, abstain_frac)   (tools/sim/spb.h)
//   rosenbrock(exp_id, tag, config JSON, nodes, reps, iter, f_mean, f_se)
// Callers read and write them with SQLiteCpp (SQLite::Statement,
// SQLite::Transaction), which throws SQLite::Exception on errors.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>      // Database, Statement, Transaction, Exception
#include <SQLiteCpp/VariadicBind.h>  // SQLite::bind(statement, values...)

#include <string>

namespace signfed::sim {

// Opens (creating) the SQLite file at path in WAL mode, waiting up to 10 s for
// another writer's lock, and creates the simulator's tables if missing.
// Throws std::runtime_error naming the file when it cannot.
SQLite::Database open_sim_db(const std::string& path);

}  // namespace signfed::sim
