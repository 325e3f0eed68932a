// The PostgreSQL round log (round_log.h; docs/postgresql.md): one libpq
// connection, the tables of log_schema.h in the URL's database, one explicit
// transaction per round. Parameters go out through PQexecParams: numbers and
// text as text (a double as its shortest exact decimal), checkpoints and
// result packets as binary bytea (raw float32 bytes in host order, exactly as
// the SQLite BLOBs); they are read back in binary, never escaped into SQL.
#include <libpq-fe.h>

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <endian.h>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/log_backend.h"
#include "coordinator/log_schema.h"

namespace signfed::coord {
namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

struct ConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};

// One statement's parameters, in $1, $2 ... order. Binary values point at
// the caller's bytes, which must outlive the statement's execution.
class Params {
 public:
  Params& i64(std::int64_t v) { return text(std::to_string(v)); }
  Params& f64(double v) { return text(fmt::format("{}", v)); }  // shortest round-trip; nan and inf as PostgreSQL reads them
  Params& str(const std::string& s) { return text(s); }
  Params& null() {
    items_.push_back({});
    items_.back().null = true;
    return *this;
  }
  Params& opt(const std::optional<double>& v) { return v ? f64(*v) : null(); }
  Params& opt(const std::optional<bool>& v) { return v ? i64(*v ? 1 : 0) : null(); }
  Params& opt(const std::optional<std::string>& v) { return v ? str(*v) : null(); }
  Params& opt(const std::optional<std::uint32_t>& v) { return v ? i64(*v) : null(); }
  // bytea; zero bytes is an empty value, not NULL (checkpoints.params is NOT NULL).
  Params& bytes(const void* p, std::size_t n) {
    if (n > static_cast<std::size_t>(INT32_MAX))
      throw LogError(fmt::format("a value of {} bytes is larger than one PostgreSQL parameter may be", n));
    Item it;
    it.bin = n ? static_cast<const char*>(p) : "";
    it.len = static_cast<int>(n);
    it.binary = true;
    items_.push_back(std::move(it));
    return *this;
  }
  Params& floats(const std::vector<float>& v) { return bytes(v.data(), v.size() * sizeof(float)); }

  int size() const { return static_cast<int>(items_.size()); }
  // The arrays PQexecParams takes; valid while this object is unchanged.
  void arrays(std::vector<const char*>& values, std::vector<int>& lengths, std::vector<int>& formats) const {
    for (const Item& it : items_) {
      values.push_back(it.null ? nullptr : it.binary ? it.bin : it.text.c_str());
      lengths.push_back(it.len);
      formats.push_back(it.binary ? 1 : 0);
    }
  }

 private:
  struct Item {
    std::string text;
    const char* bin = nullptr;
    int len = 0;
    bool binary = false, null = false;
  };
  Params& text(std::string s) {
    items_.push_back({});
    items_.back().text = std::move(s);
    return *this;
  }
  std::vector<Item> items_;
};

// Binary result columns (network byte order).
std::int64_t bin_i64(const PGresult* r, int row, int col) {
  std::uint64_t v = 0;
  std::memcpy(&v, PQgetvalue(r, row, col), sizeof v);
  return static_cast<std::int64_t>(be64toh(v));
}
double bin_f64(const PGresult* r, int row, int col) {
  std::uint64_t v = 0;
  std::memcpy(&v, PQgetvalue(r, row, col), sizeof v);
  v = be64toh(v);
  double d = 0;
  std::memcpy(&d, &v, sizeof d);
  return d;
}
std::string bin_text(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}
std::vector<float> bin_floats(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  std::vector<float> v(static_cast<std::size_t>(PQgetlength(r, row, col)) / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), PQgetvalue(r, row, col), v.size() * sizeof(float));
  return v;
}
// Text result columns.
std::string text_at(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col); }  // NULL: ""
std::int64_t int_at(const PGresult* r, int row, int col) { return std::stoll(text_at(r, row, col)); }

// libpq's messages end in a newline and continue on tab-indented lines: one line for ours.
std::string trimmed(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What the user can do, by SQLSTATE (its class: the first two characters).
std::string advice(const std::string& state, bool connection_lost) {
  if (connection_lost)
    return " (the connection to the server was lost: check that it runs and is reachable, then rerun with --resume)";
  if (state == "53100") return " (the server's disk is full: free space and rerun with --resume)";
  if (state.rfind("53", 0) == 0) return " (the server is out of resources: fix that and rerun with --resume)";
  if (state == "42501")
    return " (the role may not create or write these tables: grant it rights on the database or pass another --db)";
  if (state == "25006") return " (the server is read-only, a standby?: point --db at the primary)";
  if (state == "40001" || state == "40P01" || state == "55P03")
    return " (another process is writing the same run: stop that process or pass another --db)";
  if (state.rfind("57P", 0) == 0) return " (the server is shutting down or restarting: start it and rerun with --resume)";
  if (state.rfind("42", 0) == 0)
    return " (is this database a signfed round log? pass another database in --db, or a new one made with createdb)";
  return "";
}

// "INSERT INTO <head> VALUES($1,..,$k), ($k+1,..), ..." for rows of k
// parameters each: many rows in one round trip to the server.
std::string multi_row_insert(const char* head, int columns, std::size_t rows) {
  std::string sql = fmt::format("INSERT INTO {} VALUES", head);
  int n = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r ? ",(" : "(";
    for (int c = 0; c < columns; ++c) {
      sql += c ? ",$" : "$";
      sql += std::to_string(++n);
    }
    sql += ')';
  }
  return sql;
}

// Rows per multi-row INSERT: well under the protocol's 65,535 parameters.
constexpr std::size_t kRowsPerInsert = 1000;

class PgLog final : public LogBackend {
 public:
  PgLog(const std::string& url, std::string shown);

  void set_max_pages(std::uint32_t) override {}  // a SQLite testing aid; PostgreSQL has no page cap
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
  // Runs sql with params; results in text, or binary when binary_result.
  // Throws LogError naming the server, what was being done and the advice.
  Result exec(const std::string& what, const char* sql, const Params& params = {}, bool binary_result = false);
  void script(const std::string& what, const std::string& sql);  // no parameters, several statements
  [[noreturn]] void fail(const std::string& what, const PGresult* r);
  void write_evals(std::int64_t run_id, const std::vector<EvalRow>& evals);
  void check_schema();

  // BEGIN ... COMMIT; rolled back unless committed (an exception on the way).
  class Tx {
   public:
    Tx(PgLog& log, const std::string& what) : log_(log), what_(what) { log_.script(what_, "BEGIN"); }
    ~Tx() {
      if (!done_) PQclear(PQexec(log_.conn_.get(), "ROLLBACK"));  // a lost connection: the server rolls back itself
    }
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    void commit() {
      log_.script(what_, "COMMIT");
      done_ = true;
    }

   private:
    PgLog& log_;
    std::string what_;
    bool done_ = false;
  };

  std::string shown_;
  std::unique_ptr<PGconn, ConnFree> conn_;
};

PgLog::PgLog(const std::string& url, std::string shown) : shown_(std::move(shown)) {
  // A URL libpq cannot parse is the user's typo, not an unreachable server.
  char* parse_error = nullptr;
  if (PQconninfoOption* opts = PQconninfoParse(url.c_str(), &parse_error)) {
    PQconninfoFree(opts);
  } else {
    const std::string msg = parse_error ? trimmed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    throw LogError("round log " + shown_ + ": " + msg +
                   " (the URL is malformed: postgresql://[user[:password]@][host][:port][/dbname][?param=value&...])");
  }
  // connect_timeout: an unreachable host fails within seconds, not minutes.
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), "10", "signfed-coordinator", nullptr};
  conn_.reset(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (!conn_) throw LogError("round log " + shown_ + ": out of memory creating the PostgreSQL connection");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    const std::string msg = trimmed(PQerrorMessage(conn_.get()));
    std::string hint =
        " (is the PostgreSQL server running and reachable there? check host, port and dbname in the URL: "
        "postgresql://[user[:password]@][host][:port][/dbname][?param=value&...], docs/postgresql.md)";
    if (msg.find("authentication") != std::string::npos || msg.find("password") != std::string::npos)
      hint = " (check the user and password in the URL, and the server's pg_hba.conf)";
    else if (msg.find("does not exist") != std::string::npos)
      hint = " (create the database or role first, e.g. createdb NAME, or name an existing one in the URL)";
    throw LogError("cannot connect to the PostgreSQL round log " + shown_ + ": " + msg + hint);
  }
  // CREATE TABLE IF NOT EXISTS notices ("already exists, skipping") are not for the user.
  script("cannot configure the session", "SET client_min_messages = warning");
  {
    Tx tx(*this, "cannot create the tables");
    // Two coordinators creating the tables of one new database at once: the
    // second waits for the first (a transaction-scoped advisory lock).
    script("cannot create the tables", "SELECT pg_advisory_xact_lock(7270519)");
    script("cannot create the tables", log_schema_sql(SqlDialect::postgresql));
    check_schema();
    const Result v = exec("cannot read the schema version", "SELECT value FROM meta WHERE key='schema_version'");
    if (PQntuples(v.get()) > 0) {
      const int have = std::atoi(text_at(v.get(), 0, 0).c_str());
      if (have != kLogSchemaVersion)
        throw LogError("round log " + shown_ + ": schema version " + std::to_string(have) +
                       ", this build writes version " + std::to_string(kLogSchemaVersion) +
                       "; pass another database in --db (createdb NAME)");
    } else {
      exec("cannot write the schema version", "INSERT INTO meta(key, value) VALUES('schema_version', $1)",
           Params().str(std::to_string(kLogSchemaVersion)));
    }
    tx.commit();
  }
}

// Tables that existed before (CREATE ... IF NOT EXISTS leaves them as they
// are) must have every column this build writes.
void PgLog::check_schema() {
  const Result r = exec("cannot read the schema",
                        "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema()");
  std::vector<std::pair<std::string, std::string>> have;
  for (int i = 0; i < PQntuples(r.get()); ++i) have.emplace_back(text_at(r.get(), i, 0), text_at(r.get(), i, 1));
  for (const SchemaColumn& c : log_schema_columns())
    if (std::find(have.begin(), have.end(), std::make_pair(c.table, c.column)) == have.end())
      throw LogError("round log " + shown_ + ": table " + c.table + " has no column " + c.column +
                     ": this database is not a signfed round log of this version; pass another database in --db "
                     "(createdb NAME)");
}

void PgLog::fail(const std::string& what, const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
  const std::string msg = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get()));
  throw LogError("round log " + shown_ + ": " + what + ": " + (msg.empty() ? "unknown error" : msg) +
                 advice(state ? state : "", lost));
}

Result PgLog::exec(const std::string& what, const char* sql, const Params& params, bool binary_result) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  params.arrays(values, lengths, formats);
  Result r(PQexecParams(conn_.get(), sql, params.size(), /*types: inferred=*/nullptr, values.data(), lengths.data(),
                        formats.data(), binary_result ? 1 : 0));
  const ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) fail(what, r.get());
  return r;
}

void PgLog::script(const std::string& what, const std::string& sql) {
  Result r(PQexec(conn_.get(), sql.c_str()));
  const ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) fail(what, r.get());
}

std::int64_t PgLog::begin_run(const std::string& config_json, std::uint32_t rounds_planned, const std::string& tag) {
  const Result r = exec("cannot start a run",
                        "INSERT INTO runs(config, tag, started_at, status, rounds_planned) "
                        "VALUES($1, $2, EXTRACT(EPOCH FROM clock_timestamp())::double precision, 'running', $3) "
                        "RETURNING run_id",
                        Params().str(config_json).str(tag).i64(rounds_planned));
  return int_at(r.get(), 0, 0);
}

void PgLog::update_config(std::int64_t run_id, const std::string& config_json) {
  exec("cannot update the run's configuration", "UPDATE runs SET config=$1 WHERE run_id=$2",
       Params().str(config_json).i64(run_id));
}

std::optional<ResumePoint> PgLog::find_resumable() {
  const std::string what = "cannot read the run to resume";
  const Result run = exec(what, "SELECT run_id, config FROM runs WHERE status != 'completed' ORDER BY run_id DESC LIMIT 1");
  if (PQntuples(run.get()) == 0) return std::nullopt;
  ResumePoint p;
  p.run_id = int_at(run.get(), 0, 0);
  p.config_json = text_at(run.get(), 0, 1);
  const Result c = exec(what,
                        "SELECT round, digest, params, momentum FROM checkpoints WHERE run_id=$1 "
                        "ORDER BY round DESC LIMIT 1",
                        Params().i64(p.run_id), /*binary_result=*/true);
  if (PQntuples(c.get()) > 0) {
    p.checkpoint.round = bin_i64(c.get(), 0, 0);
    p.checkpoint.digest = parse_digest_hex(bin_text(c.get(), 0, 1));
    p.checkpoint.params = bin_floats(c.get(), 0, 2);
    p.checkpoint.momentum = bin_floats(c.get(), 0, 3);
  }
  const Result agg = exec(what,
                          "SELECT COALESCE(MAX(round), -1), COALESCE(MAX(virtual_time_s), 0) FROM rounds WHERE run_id=$1",
                          Params().i64(p.run_id), true);
  p.last_round = bin_i64(agg.get(), 0, 0);
  p.virtual_time_s = bin_f64(agg.get(), 0, 1);
  const Result res = exec(what,
                          "SELECT round, packet, step, momentum, applied, digest FROM results "
                          "WHERE run_id=$1 AND round>$2 ORDER BY round",
                          Params().i64(p.run_id).i64(p.checkpoint.round), true);
  for (int i = 0; i < PQntuples(res.get()); ++i) {
    ResultRow row;
    row.round = static_cast<std::uint32_t>(bin_i64(res.get(), i, 0));
    const auto* b = reinterpret_cast<const std::uint8_t*>(PQgetvalue(res.get(), i, 1));
    row.packet.assign(b, b + PQgetlength(res.get(), i, 1));
    row.step = static_cast<float>(bin_f64(res.get(), i, 2));
    row.momentum = static_cast<float>(bin_f64(res.get(), i, 3));
    row.applied = bin_i64(res.get(), i, 4) != 0;
    row.digest = parse_digest_hex(bin_text(res.get(), i, 5));
    p.results.push_back(std::move(row));
  }
  const Result cl = exec(what,
                         "SELECT client_id, name, platform, arch, COALESCE(samples, 0), data_desc, key FROM clients "
                         "WHERE run_id=$1 ORDER BY client_id",
                         Params().i64(p.run_id));
  for (int i = 0; i < PQntuples(cl.get()); ++i) {
    ClientRow row;
    row.client_id = static_cast<std::uint32_t>(int_at(cl.get(), i, 0));
    row.name = text_at(cl.get(), i, 1);
    row.platform = text_at(cl.get(), i, 2);
    row.arch = text_at(cl.get(), i, 3);
    row.samples = static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_at(cl.get(), i, 4)));
    row.data_desc = text_at(cl.get(), i, 5);
    row.key = text_at(cl.get(), i, 6);
    p.clients.push_back(std::move(row));
  }
  return p;
}

void PgLog::mark_resumed(std::int64_t run_id) {
  exec("cannot mark the run resumed", "UPDATE runs SET status='running', resumes=resumes+1 WHERE run_id=$1",
       Params().i64(run_id));
}

void PgLog::upsert_client(std::int64_t run_id, const ClientRow& c, double now) {
  exec("cannot log a client",
       "INSERT INTO clients(run_id, client_id, name, platform, arch, samples, data_desc, joined_at, last_seen, key) "
       "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT(run_id, client_id) DO UPDATE SET "
       "platform=excluded.platform, arch=excluded.arch, samples=excluded.samples, data_desc=excluded.data_desc, "
       "last_seen=excluded.last_seen, key=excluded.key",
       Params()
           .i64(run_id)
           .i64(c.client_id)
           .str(c.name)
           .str(c.platform)
           .str(c.arch)
           .i64(log_counter(c.samples))
           .str(c.data_desc)
           .f64(now)
           .f64(now)
           .str(c.key));
}

void PgLog::touch_client(std::int64_t run_id, std::uint32_t client_id, double now) {
  exec("cannot log a client", "UPDATE clients SET last_seen=$1 WHERE run_id=$2 AND client_id=$3",
       Params().f64(now).i64(run_id).i64(client_id));
}

void PgLog::log_event(std::int64_t run_id, double now, std::optional<std::uint32_t> client_id,
                      const std::string& kind, const std::string& detail) {
  exec("cannot log an event", "INSERT INTO events(run_id, t, client_id, kind, detail) VALUES($1,$2,$3,$4,$5)",
       Params().i64(run_id).f64(now).opt(client_id).str(kind).str(detail));
}

// EvalReport rows and their rounds' aggregates, inside the caller's
// transaction; the aggregate is recomputed from every row of the round.
void PgLog::write_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) {
  std::vector<std::uint32_t> rounds;
  for (std::size_t first = 0; first < evals.size(); first += kRowsPerInsert) {
    const std::size_t n = std::min(kRowsPerInsert, evals.size() - first);
    Params p;
    for (std::size_t i = first; i < first + n; ++i) {
      const EvalRow& e = evals[i];
      p.i64(run_id).i64(e.round).i64(e.client_id).f64(e.loss).f64(e.accuracy).i64(log_counter(e.samples));
      if (std::find(rounds.begin(), rounds.end(), e.round) == rounds.end()) rounds.push_back(e.round);
    }
    exec("cannot log an evaluation",
         multi_row_insert("client_evals(run_id, round, client_id, loss, accuracy, samples)", 6, n).c_str(), p);
  }
  for (std::uint32_t r : rounds)
    exec("cannot log an evaluation",
         "UPDATE rounds SET (fed_loss, fed_accuracy, fed_samples) = "
         "(SELECT SUM(loss * samples) / SUM(samples)::double precision, "
         "SUM(accuracy * samples) / SUM(samples)::double precision, SUM(samples)::bigint "
         "FROM client_evals WHERE run_id=$1 AND round=$2) WHERE run_id=$1 AND round=$2",
         Params().i64(run_id).i64(r));
}

void PgLog::commit_round(std::int64_t run_id, const RoundRow& r, const std::vector<UpdateRow>& updates,
                         const ResultRow* result, const Checkpoint* ckpt, bool keep_checkpoint_history,
                         const std::vector<EvalRow>& evals) {
  const std::string what = "cannot log round " + std::to_string(r.round);
  Tx tx(*this, what);
  exec(what,
       "INSERT INTO rounds(run_id, round, started_at, ended_at, selected, received, late, dropped, rejected, "
       "uplink_bytes, downlink_bytes, snapshot_bytes, coords_moved, ties, margin_hist, train_loss, "
       "test_accuracy, test_loss, step_size, guard_kept, model_digest, virtual_time_s, refused) "
       "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)",
       Params()
           .i64(run_id)
           .i64(r.round)
           .f64(r.started_at)
           .f64(r.ended_at)
           .i64(r.selected)
           .i64(r.received)
           .i64(r.late)
           .i64(r.dropped)
           .i64(r.rejected)
           .i64(log_counter(r.uplink_bytes))
           .i64(log_counter(r.downlink_bytes))
           .i64(log_counter(r.snapshot_bytes))
           .i64(log_counter(r.coords_moved))
           .i64(log_counter(r.ties))
           .str(r.margin_hist)
           .opt(r.train_loss)
           .opt(r.test_accuracy)
           .opt(r.test_loss)
           .f64(r.step_size)
           .opt(r.guard_kept)
           .str(digest_hex(r.model_digest))
           .f64(r.virtual_time_s)
           .opt(r.refused));
  // The update rows: kRowsPerInsert to a statement, one round trip each.
  for (std::size_t first = 0; first < updates.size(); first += kRowsPerInsert) {
    const std::size_t n = std::min(kRowsPerInsert, updates.size() - first);
    Params p;
    for (std::size_t i = first; i < first + n; ++i) {
      const UpdateRow& u = updates[i];
      p.i64(run_id)
          .i64(u.round)
          .i64(u.client_id)
          .i64(log_counter(u.bytes))
          .i64(log_counter(u.payload_bytes))
          .f64(u.latency_ms)
          .f64(u.local_loss)
          .i64(u.samples)
          .str(u.status)
          .str(u.detail)
          .opt(u.agreement);
    }
    exec(what,
         multi_row_insert("updates(run_id, round, client_id, bytes, payload_bytes, latency_ms, local_loss, samples, "
                          "status, detail, agreement)", 11, n)
             .c_str(),
         p);
  }
  if (result)
    exec(what,
         "INSERT INTO results(run_id, round, packet, step, momentum, applied, digest) VALUES($1,$2,$3,$4,$5,$6,$7)",
         Params()
             .i64(run_id)
             .i64(result->round)
             .bytes(result->packet.data(), result->packet.size())
             .f64(result->step)
             .f64(result->momentum)
             .i64(result->applied ? 1 : 0)
             .str(digest_hex(result->digest)));
  if (ckpt) {
    exec(what, "DELETE FROM checkpoints WHERE run_id=$1 AND keep=0", Params().i64(run_id));
    exec(what,
         "INSERT INTO checkpoints(run_id, round, digest, params, momentum, keep) VALUES($1,$2,$3,$4,$5,$6) "
         "ON CONFLICT(run_id, round) DO UPDATE SET digest=excluded.digest, params=excluded.params, "
         "momentum=excluded.momentum, keep=excluded.keep",
         Params()
             .i64(run_id)
             .i64(ckpt->round)
             .str(digest_hex(ckpt->digest))
             .floats(ckpt->params)
             .floats(ckpt->momentum)
             .i64(keep_checkpoint_history ? 1 : 0));
  }
  write_evals(run_id, evals);
  tx.commit();
}

void PgLog::commit_evals(std::int64_t run_id, const std::vector<EvalRow>& evals) {
  Tx tx(*this, "cannot log the last round's evaluations");
  write_evals(run_id, evals);
  tx.commit();
}

void PgLog::end_run(std::int64_t run_id, const std::string& status) {
  exec("cannot end the run",
       "UPDATE runs SET status=$1, ended_at=EXTRACT(EPOCH FROM clock_timestamp())::double precision WHERE run_id=$2",
       Params().str(status).i64(run_id));
}

std::optional<double> PgLog::last_fed_accuracy(std::int64_t run_id) {
  const Result r = exec("cannot read the federated accuracy",
                        "SELECT fed_accuracy FROM rounds WHERE run_id=$1 AND fed_samples > 0 "
                        "ORDER BY round DESC LIMIT 1",
                        Params().i64(run_id));
  if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return std::nullopt;
  return std::stod(text_at(r.get(), 0, 0));
}

}  // namespace

std::unique_ptr<LogBackend> open_postgres_log(const std::string& url, const std::string& shown) {
  return std::make_unique<PgLog>(url, shown);
}

}  // namespace signfed::coord
