// LogBackend: the storage seam behind RoundLog (round_log.h holds the
// contract: one transaction per round, resume, LogError messages that name
// the database and say what to do). One implementation per database:
// round_log_sqlite.cc (a file; the embedded default) and round_log_pg.cc
// (a PostgreSQL server through libpq, when built with SIGNFED_WITH_POSTGRESQL).
// Both create the tables of log_schema.h. Internal to the coordinator.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/round_log.h"

namespace signfed::coord {

class LogBackend {
 public:
  virtual ~LogBackend() = default;
  virtual void set_max_pages(std::uint32_t max_pages) = 0;
  virtual std::int64_t begin_run(const std::string& config_json, std::uint32_t rounds_planned,
                                 const std::string& tag) = 0;
  virtual void update_config(std::int64_t run_id, const std::string& config_json) = 0;
  virtual std::optional<ResumePoint> find_resumable() = 0;
  virtual void mark_resumed(std::int64_t run_id) = 0;
  virtual void upsert_client(std::int64_t run_id, const ClientRow& c, double now) = 0;
  virtual void touch_client(std::int64_t run_id, std::uint32_t client_id, double now) = 0;
  virtual void log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id,
                         const std::string& kind, const std::string& detail) = 0;
  virtual void commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                            const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                            const std::vector<EvalRow>& evals) = 0;
  virtual void commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) = 0;
  virtual void end_run(std::int64_t run_id, const std::string& status) = 0;
  virtual std::optional<double> last_fed_accuracy(std::int64_t run_id) = 0;
};

// Opens (creating if needed) the SQLite file at path.
std::unique_ptr<LogBackend> open_sqlite_log(const std::string& path);
// Connects to the PostgreSQL server of a postgresql:// URL (a libpq
// connection URI) and creates the tables in its database if needed. shown:
// the URL without its password, for messages. Throws LogError when the build
// has no PostgreSQL support.
std::unique_ptr<LogBackend> open_postgres_log(const std::string& url, const std::string& shown);

// Counters are unsigned in C++ and signed 64-bit in both databases: a value
// that would wrap is refused (LogError), never stored as a negative number.
std::int64_t log_counter(std::uint64_t v);
std::uint64_t parse_digest_hex(const std::string& s);

}  // namespace signfed::coord
