#include "tools/export/run_source.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/codec/step.h"
#include "core/replica/replay.h"
#include "core/replica/replica.h"
#include "core/model/model.h"

namespace signfed::exporter {
namespace {

std::string hex(std::uint64_t d) { return fmt::format("{:016x}", d); }

// A little-endian float32 BLOB (NULL: empty).
std::vector<float> float_blob(const SQLite::Column& blob, const std::string& where, std::int64_t round,
                              const char* what) {
  if (blob.getBytes() % sizeof(float) != 0)
    throw ExportError(fmt::format("{} round {}: {} BLOB of {} bytes is not float32 values: the file is corrupt", where,
                                  round, what, blob.getBytes()));
  std::vector<float> v(static_cast<std::size_t>(blob.getBytes()) / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), blob.getBlob(), v.size() * sizeof(float));
  return v;
}

std::vector<std::int64_t> column_ints(SQLite::Database& db, const std::string& sql, std::optional<std::int64_t> arg = {}) {
  SQLite::Statement q(db, sql);
  if (arg) q.bind(1, *arg);
  std::vector<std::int64_t> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
  return out;
}

std::unique_ptr<SQLite::Database> open_log(const std::string& path) {
  if (path.rfind("postgresql://", 0) == 0 || path.rfind("postgres://", 0) == 0)
    throw ExportError("signfed-export reads SQLite round logs only, not a PostgreSQL URL (docs/postgresql.md): "
                      "export from a run logged to a .sqlite file");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw ExportError(fmt::format("{}: no such file (pass the --db file a signfed-coordinator or signfed-sim run wrote)",
                                  path));
  if (std::filesystem::is_directory(path, ec))
    throw ExportError(fmt::format("{} is a directory (pass the run's .sqlite file)", path));
  std::unique_ptr<SQLite::Database> db;
  const std::string not_ours = fmt::format(
      "{} is not a signfed round log (pass the --db file a signfed-coordinator or signfed-sim run wrote)", path);
  try {
    db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY, /*busy ms=*/5000);
    // A file that is not SQLite fails here, at the first read ("file is not a database").
    SQLite::Statement t(*db, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN ('runs', 'checkpoints', 'meta')");
    if (!t.executeStep() || t.getColumn(0).getInt() != 3) throw ExportError(not_ours + ": it has no runs, checkpoints and meta tables");
  } catch (const SQLite::Exception& e) {
    throw ExportError(fmt::format("{}: {}", not_ours, e.what()));
  }
  return db;
}

float stat(const nlohmann::json& config, const char* key, const std::string& where) {
  if (!config.contains(key) || !config.at(key).is_number())
    throw ExportError(fmt::format("{}: runs.config has no numeric {} although standardise is on (a run that never "
                                  "opened? export a run that completed a round)", where, key));
  return config.at(key).get<float>();
}

}  // namespace

RunSource read_run(const std::string& path, std::optional<std::int64_t> run, std::optional<std::int64_t> round) {
  std::unique_ptr<SQLite::Database> db = open_log(path);
  RunSource src;
  src.path = path;
  try {
    SQLite::Database& d = *db;
    const std::vector<std::int64_t> runs = column_ints(d, "SELECT run_id FROM runs ORDER BY run_id");
    if (runs.empty()) throw ExportError(fmt::format("{} holds no runs yet (start the coordinator with --db {})", path, path));
    src.run_id = run.value_or(runs.back());
    if (std::find(runs.begin(), runs.end(), src.run_id) == runs.end())
      throw ExportError(fmt::format("{} has no run {}; its runs: {} (pass one with --run, or leave --run out for the latest)",
                                    path, src.run_id, fmt::join(runs, ", ")));
    const std::string where = fmt::format("{} run {}", path, src.run_id);

    SQLite::Statement c(d, "SELECT config FROM runs WHERE run_id=?");
    c.bind(1, src.run_id);
    c.executeStep();
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(c.getColumn(0).getString());
      src.model = config.at("model").get<std::string>();
      src.seed = config.value("seed", std::uint64_t{0});
    } catch (const nlohmann::json::exception& e) {
      throw ExportError(fmt::format("{}: runs.config is not a signfed run config ({})", where, e.what()));
    }
    const auto per_feature = [&](const char* key) {
      std::vector<float> v;
      if (config.contains(key) && config.at(key).is_array()) {
        try {
          v = config.at(key).get<std::vector<float>>();
        } catch (const nlohmann::json::exception&) {
          throw ExportError(fmt::format("{}: runs.config {} is not an array of numbers", where, key));
        }
      }
      return v;
    };
    // Per-feature statistics (--input-stats federated), when the run stored them, replace the scalars.
    std::vector<float> fmean = per_feature("input_mean_per_feature"), fstd = per_feature("input_std_per_feature");
    if (config.value("standardise", false) && config.value("input_stats", std::string("dataset")) == "federated" &&
        fmean.empty())
      throw ExportError(fmt::format("{}: the run standardises with federated statistics but none are stored (it never "
                                    "started a round?): export a run that completed a round", where));
    if (config.value("standardise", false) && !fmean.empty()) {
      if (fstd.size() != fmean.size())
        throw ExportError(fmt::format("{}: runs.config has {} per-feature means and {} standard deviations", where,
                                      fmean.size(), fstd.size()));
      for (std::size_t j = 0; j < fmean.size(); ++j)
        if (!std::isfinite(fmean[j]) || !std::isfinite(fstd[j]) || !(fstd[j] > 0.0f))
          throw ExportError(fmt::format("{}: stored standardisation of feature {} (mean {} std {}) is not usable "
                                        "(std must be positive)", where, j, fmean[j], fstd[j]));
      src.input = {std::move(fmean), std::move(fstd)};
    } else if (config.value("standardise", false)) {
      const float mean = stat(config, "input_mean", where), sd = stat(config, "input_std", where);
      if (!std::isfinite(mean) || !(sd > 0.0f) || !std::isfinite(sd))
        throw ExportError(fmt::format("{}: stored standardisation mean {} std {} is not usable (std must be positive)",
                                      where, mean, sd));
      src.input = {{mean}, {sd}};
    }

    // The model after round R: the nearest checkpoint at or before R, then the
    // vote log's results up to R replayed onto it (core/replica/replay.h).
    const std::vector<std::int64_t> kept =
        column_ints(d, "SELECT round FROM checkpoints WHERE run_id=? ORDER BY round", src.run_id);
    if (kept.empty())
      throw ExportError(fmt::format("{} has no stored parameters (no round completed): nothing to export", where));
    const bool vote_log =
        column_ints(d, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='results'").front() > 0;
    const std::int64_t last_logged =
        vote_log ? std::max(kept.back(), column_ints(d, "SELECT COALESCE(MAX(round), -1) FROM results WHERE run_id=?",
                                                     src.run_id).front())
                 : kept.back();
    src.round = round.value_or(last_logged);
    const auto base = std::find_if(kept.rbegin(), kept.rend(), [&](std::int64_t r) { return r <= src.round; });
    if (src.round > last_logged || base == kept.rend() || (!vote_log && *base != src.round)) {
      if (vote_log)
        throw ExportError(fmt::format("{} has no model for round {}: export a round from {} to {} (the logged rounds "
                                      "from the first checkpoint on)", where, src.round, kept.front(), last_logged));
      throw ExportError(fmt::format("{} has no stored parameters for round {}; rounds with parameters: {} (a log "
                                    "written before the vote log keeps only every --checkpoint-every-th round and the "
                                    "last)", where, src.round, fmt::join(kept, ", ")));
    }

    SQLite::Statement p(d, "SELECT digest, params, momentum FROM checkpoints WHERE run_id=? AND round=?");
    p.bind(1, src.run_id);
    p.bind(2, *base);
    p.executeStep();
    const std::string logged = p.getColumn(0).getString();
    src.params = float_blob(p.getColumn(1), where, *base, "parameter");
    const std::vector<float> momentum = float_blob(p.getColumn(2), where, *base, "momentum");
    const std::uint64_t basis = codec::architecture_basis(model::make_model(src.model, 0)->spec());
    src.digest = codec::model_digest(src.params, basis);
    if (hex(src.digest) != logged)
      throw ExportError(fmt::format("{} round {}: stored parameters hash to {} but the log says {}: the file is corrupt "
                                    "(export another round with --round)", where, *base, hex(src.digest), logged));
    if (*base < src.round) {
      std::vector<core::LoggedResult> results;
      SQLite::Statement q(d, "SELECT round, packet, step, momentum, applied, digest FROM results "
                             "WHERE run_id=? AND round>? AND round<=? ORDER BY round");
      q.bind(1, src.run_id);
      q.bind(2, *base);
      q.bind(3, src.round);
      while (q.executeStep()) {
        core::LoggedResult r;
        r.round = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
        const SQLite::Column blob = q.getColumn(1);
        const auto* b = static_cast<const std::uint8_t*>(blob.getBlob());
        r.packet.assign(b, b + blob.getBytes());
        r.step = static_cast<float>(q.getColumn(2).getDouble());
        r.momentum = static_cast<float>(q.getColumn(3).getDouble());
        r.applied = q.getColumn(4).getInt64() != 0;
        r.digest = std::stoull(q.getColumn(5).getString(), nullptr, 16);
        results.push_back(std::move(r));
      }
      try {
        core::Replica replica(src.params, basis);  // replays in place into src.params
        if (momentum.size() == src.params.size()) replica.assign(std::vector<float>(src.params), momentum);
        core::replay_results(replica, *base, src.round, results, where);
        src.digest = replica.digest();
      } catch (const std::exception& e) {
        throw ExportError(fmt::format("{}: the round log is damaged (export a checkpointed round: {})", e.what(),
                                      fmt::join(kept, ", ")));
      }
    }
  } catch (const SQLite::Exception& e) {
    throw ExportError(fmt::format("{}: {} (is another process rewriting it? is it a signfed round log?)", path, e.what()));
  }
  return src;
}

}  // namespace signfed::exporter
