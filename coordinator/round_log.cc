// RoundLog: picks the backend from the --db string and forwards to it
// (log_backend.h); the helpers both backends share.
#include "coordinator/round_log.h"

#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>

#include "coordinator/log_backend.h"

namespace signfed::coord {

std::string digest_hex(std::uint64_t d) { return fmt::format("{:016x}", d); }

std::uint64_t parse_digest_hex(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 16); }

std::int64_t log_counter(std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(INT64_MAX))
    throw LogError("counter value " + std::to_string(v) + " exceeds the round log's 64-bit INTEGER");
  return static_cast<std::int64_t>(v);
}

bool is_postgres_url(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

std::string shown_db(const std::string& db) {
  if (!is_postgres_url(db)) return db;
  // postgresql://user:password@host...: the password goes, the rest stays.
  const std::size_t scheme = db.find("://") + 3;
  const std::size_t at = db.find('@', scheme);
  const std::size_t slash = db.find('/', scheme);
  std::string out = db;
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const std::size_t colon = db.find(':', scheme);
    if (colon != std::string::npos && colon < at) out = db.substr(0, colon) + ":***" + db.substr(at);
  }
  // A password=... parameter in the query string goes too.
  const std::size_t pw = out.find("password=");
  if (pw != std::string::npos && pw > 0 && (out[pw - 1] == '?' || out[pw - 1] == '&')) {
    const std::size_t end = out.find('&', pw);
    out = out.substr(0, pw) + "password=***" + (end == std::string::npos ? "" : out.substr(end));
  }
  return out;
}

RoundLog::RoundLog(const std::string& path)
    : path_(shown_db(path)), impl_(is_postgres_url(path) ? open_postgres_log(path, path_) : open_sqlite_log(path)) {}

RoundLog::~RoundLog() = default;

void RoundLog::set_max_pages(std::uint32_t max_pages) { impl_->set_max_pages(max_pages); }

std::int64_t RoundLog::begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag) {
  return impl_->begin_run(config_json, rounds_planned, tag);
}

void RoundLog::update_config(std::int64_t run_id, const std::string& config_json) {
  impl_->update_config(run_id, config_json);
}

std::optional<ResumePoint> RoundLog::find_resumable() { return impl_->find_resumable(); }

void RoundLog::mark_resumed(std::int64_t run_id) { impl_->mark_resumed(run_id); }

void RoundLog::upsert_client(std::int64_t run_id, const ClientRow& c, double now) { impl_->upsert_client(run_id, c, now); }

void RoundLog::touch_client(std::int64_t run_id, std::uint32_t client_id, double now) {
  impl_->touch_client(run_id, client_id, now);
}

void RoundLog::log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id,
                         const std::string& kind, const std::string& detail) {
  impl_->log_event(run_id, now, client_id, kind, detail);
}

void RoundLog::commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                            const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                            const std::vector<EvalRow>& evals) {
  impl_->commit_round(run_id, r, updates, result, ckpt, keep_checkpoint_history, evals);
}

void RoundLog::commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) {
  impl_->commit_evals(run_id, evals);
}

void RoundLog::end_run(std::int64_t run_id, const std::string& status) { impl_->end_run(run_id, status); }

std::optional<double> RoundLog::last_fed_accuracy(std::int64_t run_id) { return impl_->last_fed_accuracy(run_id); }

}  // namespace signfed::coord
