#include "coordinator/log_schema.h"

#include <string_view>

namespace signfed::coord {
namespace {

// Type placeholders: {id} the runs key, {int} a 64-bit integer, {real} a
// double, {blob} bytes. Columns added after schema version 1 shipped sit at
// the end of their table (rounds.refused, rounds.fed_*), so a new SQLite file
// has them in the order an upgraded old one gets them (round_log_sqlite.cc).
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  run_id {id}, config TEXT NOT NULL, tag TEXT NOT NULL DEFAULT '',
  started_at {real} NOT NULL, ended_at {real}, status TEXT NOT NULL, rounds_planned {int} NOT NULL,
  resumes {int} NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS clients(
  run_id {int} NOT NULL, client_id {int} NOT NULL, name TEXT NOT NULL, platform TEXT, arch TEXT,
  samples {int} CHECK(samples >= 0), data_desc TEXT, joined_at {real}, last_seen {real},
  key TEXT NOT NULL DEFAULT '', PRIMARY KEY(run_id, client_id));
CREATE TABLE IF NOT EXISTS rounds(
  run_id {int} NOT NULL, round {int} NOT NULL, started_at {real}, ended_at {real},
  selected {int}, received {int}, late {int}, dropped {int}, rejected {int},
  uplink_bytes {int}, downlink_bytes {int}, snapshot_bytes {int},
  coords_moved {int}, ties {int}, margin_hist TEXT,
  train_loss {real}, test_accuracy {real}, test_loss {real}, step_size {real}, guard_kept {int},
  model_digest TEXT, virtual_time_s {real}, refused TEXT,
  fed_loss {real}, fed_accuracy {real}, fed_samples {int}, PRIMARY KEY(run_id, round),
  CHECK(received >= 0 AND received <= selected AND dropped >= 0 AND dropped <= selected
        AND received + dropped <= selected));
CREATE TABLE IF NOT EXISTS updates(
  run_id {int} NOT NULL, round {int} NOT NULL, client_id {int} NOT NULL, bytes {int},
  payload_bytes {int}, latency_ms {real}, local_loss {real}, samples {int}, status TEXT NOT NULL,
  detail TEXT, agreement {real});
CREATE INDEX IF NOT EXISTS updates_by_round ON updates(run_id, round);
CREATE TABLE IF NOT EXISTS checkpoints(
  run_id {int} NOT NULL, round {int} NOT NULL, digest TEXT NOT NULL, params {blob} NOT NULL,
  momentum {blob}, keep {int} NOT NULL DEFAULT 0, PRIMARY KEY(run_id, round));
CREATE TABLE IF NOT EXISTS results(
  run_id {int} NOT NULL, round {int} NOT NULL, packet {blob} NOT NULL, step {real} NOT NULL, momentum {real} NOT NULL,
  applied {int} NOT NULL CHECK(applied IN (0, 1)), digest TEXT NOT NULL, PRIMARY KEY(run_id, round));
CREATE TABLE IF NOT EXISTS client_evals(
  run_id {int} NOT NULL, round {int} NOT NULL, client_id {int} NOT NULL, loss {real} NOT NULL,
  accuracy {real} NOT NULL, samples {int} NOT NULL CHECK(samples > 0), PRIMARY KEY(run_id, round, client_id));
CREATE TABLE IF NOT EXISTS events(
  run_id {int}, t {real}, client_id {int}, kind TEXT NOT NULL, detail TEXT);
)sql";

struct TypeNames {
  std::string_view id, integer, real, blob;
};

constexpr TypeNames kSqlite{"INTEGER PRIMARY KEY", "INTEGER", "REAL", "BLOB"};
constexpr TypeNames kPostgres{"BIGSERIAL PRIMARY KEY", "BIGINT", "DOUBLE PRECISION", "BYTEA"};

}  // namespace

std::string log_schema_sql(SqlDialect dialect) {
  const TypeNames& t = dialect == SqlDialect::sqlite ? kSqlite : kPostgres;
  std::string out;
  out.reserve(kSchema.size() * 2);
  for (std::size_t i = 0; i < kSchema.size();) {
    const auto take = [&](std::string_view token, std::string_view name) {
      if (kSchema.substr(i, token.size()) != token) return false;
      out += name;
      i += token.size();
      return true;
    };
    if (take("{id}", t.id) || take("{int}", t.integer) || take("{real}", t.real) || take("{blob}", t.blob)) continue;
    out += kSchema[i++];
  }
  return out;
}

std::vector<SchemaColumn> log_schema_columns() {
  // Each CREATE TABLE's body split at its top-level commas; an item is a
  // column unless it is a table constraint (PRIMARY KEY, CHECK).
  constexpr std::string_view kCreate = "CREATE TABLE IF NOT EXISTS ";
  std::vector<SchemaColumn> out;
  for (std::size_t at = kSchema.find(kCreate); at != std::string_view::npos; at = kSchema.find(kCreate, at + 1)) {
    const std::size_t name = at + kCreate.size();
    const std::size_t open = kSchema.find('(', name);
    const std::string table(kSchema.substr(name, open - name));
    int depth = 0;
    bool item_start = true;
    for (std::size_t i = open + 1; i < kSchema.size() && depth >= 0; ++i) {
      const char ch = kSchema[i];
      if (ch == '(') ++depth;
      else if (ch == ')') --depth;
      else if (ch == ',' && depth == 0) item_start = true;
      else if (item_start && ch != ' ' && ch != '\n') {
        std::size_t end = i;
        while (end < kSchema.size() && kSchema[end] != ' ' && kSchema[end] != '(') ++end;
        const std::string word(kSchema.substr(i, end - i));
        if (word != "PRIMARY" && word != "CHECK") out.push_back({table, word});
        item_start = false;
      }
    }
  }
  return out;
}

}  // namespace signfed::coord
