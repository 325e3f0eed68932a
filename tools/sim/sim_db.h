// The simulator's own SQLite tables, next to the coordinator's in the same
// file (schema in docs/simulation.md, "Log tables"):
//   sim_runs(run_id, sim_config JSON, wall_s, peak_rss_kb, clients_checked, digests_equal, crashes)
//   sim_clients(run_id, client, samples, classes JSON, ms_per_sample, up_mbps, down_mbps, latency_ms, slow)
//   spb(run_id, round, voters, samples_per_coord, coords, frac_le_half, mean_rho, l1, rho_norm, rho_m_norm, full_loss,
//       client_frac_le_half, vote_frac_le_half, mean_vote_right, mean_vote_tie, abstain_frac)   (tools/sim/spb.h)
//   rosenbrock(exp_id, tag, config JSON, nodes, reps, iter, f_mean, f_se)
// Throws std::runtime_error naming the file on SQLite errors. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct sqlite3;

namespace signfed::sim {

class SimDb {
 public:
  explicit SimDb(const std::string& path);  // opens (creating) and creates the tables
  ~SimDb();
  SimDb(const SimDb&) = delete;
  SimDb& operator=(const SimDb&) = delete;

  void begin();
  void commit();
  // Runs sql with the given values bound in order (numbers as double or int64, text).
  struct Value {
    enum class Kind { i, d, t } kind;
    std::int64_t i = 0;
    double d = 0.0;
    std::string t;
    Value(std::int64_t v) : kind(Kind::i), i(v) {}        // NOLINT: implicit on purpose
    Value(std::uint32_t v) : kind(Kind::i), i(v) {}       // NOLINT
    Value(int v) : kind(Kind::i), i(v) {}                 // NOLINT
    Value(double v) : kind(Kind::d), d(v) {}              // NOLINT
    Value(std::string v) : kind(Kind::t), t(std::move(v)) {}  // NOLINT
  };
  void run(const std::string& sql, const std::vector<Value>& values);
  std::int64_t query_int(const std::string& sql);
  std::string query_text(const std::string& sql);  // first column of the first row ("" if none)
  // Every row of sql, each column as a double (NULL as 0).
  std::vector<std::vector<double>> query_rows(const std::string& sql);

 private:
  void exec(const char* sql);
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace signfed::sim
