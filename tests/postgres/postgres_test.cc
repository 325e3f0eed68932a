// The PostgreSQL round log against a real server (pg_server.h, started once
// for the suite, one database per test): RoundLog's rows and resume points
// round-trip exactly, errors name the server and say what to do, a real
// federation logs the same rows as SQLite for the same seed, SIGKILL and
// --resume give the uninterrupted run's model, a server that goes away
// mid-run stops the coordinator with advice and --resume recovers, and
// signfed-report and summarize_run read the PostgreSQL log as they read the
// SQLite one.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "coordinator/round_log.h"
#include "tests/e2e/federation.h"
#include "tests/postgres/pg_server.h"

using namespace signfed;
using namespace signfed::test;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string log_error(const std::string& db) {
  try {
    coord::RoundLog log(db);
  } catch (const coord::LogError& e) {
    return e.what();
  }
  return "";
}

// The same facts about the newest run, from either log (SQLite file or PostgreSQL URL).
struct RunFacts {
  double rounds, distinct_rounds, counted_updates, uplink, results, clients;
  std::string status, digests, result_digests, checkpoint_rounds, last_params_hex;
};

RunFacts facts_sqlite(const std::string& db) {
  return {query_number(db, "SELECT COUNT(*) FROM rounds"),
          query_number(db, "SELECT COUNT(DISTINCT round) FROM rounds"),
          query_number(db, "SELECT COUNT(*) FROM updates WHERE status='counted'"),
          query_number(db, "SELECT SUM(uplink_bytes) FROM rounds"),
          query_number(db, "SELECT COUNT(*) FROM results"),
          query_number(db, "SELECT COUNT(*) FROM clients"),
          query_text(db, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1"),
          query_text(db, "SELECT group_concat(model_digest) FROM (SELECT model_digest FROM rounds ORDER BY round)"),
          query_text(db, "SELECT group_concat(digest) FROM (SELECT digest FROM results ORDER BY round)"),
          query_text(db, "SELECT group_concat(round) FROM (SELECT round FROM checkpoints ORDER BY round)"),
          query_text(db, "SELECT lower(hex(params)) FROM checkpoints ORDER BY round DESC LIMIT 1")};
}

RunFacts facts_pg(const std::string& url) {
  return {pg_number(url, "SELECT COUNT(*) FROM rounds"),
          pg_number(url, "SELECT COUNT(DISTINCT round) FROM rounds"),
          pg_number(url, "SELECT COUNT(*) FROM updates WHERE status='counted'"),
          pg_number(url, "SELECT SUM(uplink_bytes) FROM rounds"),
          pg_number(url, "SELECT COUNT(*) FROM results"),
          pg_number(url, "SELECT COUNT(*) FROM clients"),
          pg_text(url, "SELECT status FROM runs ORDER BY run_id DESC LIMIT 1"),
          pg_text(url, "SELECT string_agg(model_digest, ',' ORDER BY round) FROM rounds"),
          pg_text(url, "SELECT string_agg(digest, ',' ORDER BY round) FROM results"),
          pg_text(url, "SELECT string_agg(round::text, ',' ORDER BY round) FROM checkpoints"),
          pg_text(url, "SELECT encode(params, 'hex') FROM checkpoints ORDER BY round DESC LIMIT 1")};
}

// Every edge exits 0 reporting the model digest logged for the last round.
void check_edges(Federation& f, const std::string& final_digest) {
  REQUIRE(final_digest.size() == 16);
  for (std::size_t i = 0; i < f.edges.size(); ++i) {
    CAPTURE(i);
    CHECK(f.edges[i]->wait(60) == 0);
    CHECK(coord::digest_hex(edge_final_digest(f.edges[i]->output())) == final_digest);
  }
}

// Runs a script (tools/report) on db; returns its output; REQUIREs exit 0.
std::string run_script(const std::string& script, const std::string& db, const std::string& args,
                       const std::string& out_file) {
  const std::string cmd = "/usr/bin/python3 " + std::string(SIGNFED_REPORT_DIR) + "/" + script + " '" + db + "' " +
                          args + " > '" + out_file + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(cmd);
  INFO(slurp(out_file));
  REQUIRE(rc == 0);
  return slurp(out_file);
}

// The <table>s of a signfed-report page (the title names the log; the tables must not differ).
std::string report_tables(const std::string& html) {
  const std::size_t a = html.find("<h2>Summary"), b = html.find("</table>", html.find("<h2>Runs"));
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  return html.substr(a, b - a);
}

}  // namespace

TEST_CASE("postgres: RoundLog rows and the resume point round-trip exactly - bytea checkpoints and packets, NULLs, doubles") {
  const std::string url = shared_pg_server().create_database("roundtrip");
  coord::RoundLog log(url);
  const std::int64_t run = log.begin_run(R"({"method":"signum"})", 3, "tag seed=1");
  CHECK(run == 1);
  log.upsert_client(run, {0, "edge-0", "Linux", "x86_64", "iid 0/2", 30000, "key0"}, 1.5);
  log.upsert_client(run, {1, "edge-1", "Linux", "aarch64", "iid 1/2", 29999, ""}, 1.5);
  log.log_event(run, 2.0, std::nullopt, "start", "no client");

  coord::Checkpoint ck{0, 0x0123456789abcdefULL, {}, {}};
  ck.params = {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(), 3.4e38f, std::nanf(""), -1e-30f};
  ck.momentum = {0.5f, 0.25f, 0.0f, -2.0f, 1.0f, 7.0f};
  coord::RoundRow r0;
  r0.round = 0;
  r0.selected = r0.received = 2;
  r0.uplink_bytes = 123;
  r0.margin_hist = "[1,2]";
  r0.step_size = 0.1;
  r0.model_digest = ck.digest;
  r0.test_accuracy = 0.1 + 0.2;  // not a short decimal: must come back bit-exact
  coord::ResultRow res0{0, {0x00, 0xff, 0x27, 0x5c, 0x00}, 1e-3f, 0.5f, true, ck.digest};
  log.commit_round(run, r0, {{0, 0, 100, 80, 1.25, 2.5, 64, "counted", "", 0.75}}, &res0, &ck, true);
  coord::RoundRow r1 = r0;
  r1.round = 1;
  r1.refused = "guard";
  r1.test_accuracy.reset();
  coord::ResultRow res1{1, {}, 0.0f, 0.5f, false, 0xfedcba9876543210ULL};  // an empty packet: a refused step
  log.commit_round(run, r1, {}, &res1, nullptr, false, {{0, 0, 0.5, 0.75, 10}, {0, 1, 1.0, 0.25, 30}});
  log.commit_evals(run, {{1, 0, 0.4, 0.5, 20}});

  CHECK(pg_number(url, "SELECT COUNT(*) FROM rounds") == 2);
  CHECK(pg_text(url, "SELECT value FROM meta WHERE key='schema_version'") == std::to_string(coord::kLogSchemaVersion));
  CHECK(pg_number(url, "SELECT test_accuracy FROM rounds WHERE round=1") == -1);  // NULL
  CHECK(pg_text(url, "SELECT refused FROM rounds WHERE round=1") == "guard");
  CHECK(pg_number(url, "SELECT fed_samples FROM rounds WHERE round=0") == 40);
  CHECK(pg_number(url, "SELECT fed_accuracy FROM rounds WHERE round=0") == doctest::Approx(0.375));
  CHECK(pg_number(url, "SELECT fed_accuracy FROM rounds WHERE round=1") == doctest::Approx(0.5));
  CHECK(pg_text(url, "SELECT encode(packet, 'hex') FROM results WHERE round=0") == "00ff275c00");
  CHECK(pg_number(url, "SELECT octet_length(params) FROM checkpoints") == 6 * 4);
  REQUIRE(log.last_fed_accuracy(run).has_value());
  CHECK(*log.last_fed_accuracy(run) == doctest::Approx(0.5));

  const auto p = log.find_resumable();
  REQUIRE(p.has_value());
  CHECK(p->run_id == run);
  CHECK(p->config_json == R"({"method":"signum"})");
  CHECK(p->last_round == 1);
  CHECK(p->checkpoint.round == 0);
  CHECK(p->checkpoint.digest == ck.digest);
  REQUIRE(p->checkpoint.params.size() == ck.params.size());
  CHECK(std::memcmp(p->checkpoint.params.data(), ck.params.data(), ck.params.size() * sizeof(float)) == 0);
  CHECK(p->checkpoint.momentum == ck.momentum);
  REQUIRE(p->results.size() == 1);  // the rounds after the checkpoint
  CHECK(p->results[0].round == 1);
  CHECK(p->results[0].packet.empty());
  CHECK(p->results[0].momentum == 0.5f);
  CHECK(!p->results[0].applied);
  CHECK(p->results[0].digest == res1.digest);
  REQUIRE(p->clients.size() == 2);
  CHECK(p->clients[0].key == "key0");
  CHECK(p->clients[1].arch == "aarch64");
  CHECK(p->clients[1].samples == 29999);
  // A test accuracy of 0.1 + 0.2 read back exactly (the shortest round-trip decimal went out).
  CHECK(pg_text(url, "SELECT test_accuracy = 0.30000000000000004::double precision FROM rounds WHERE round=0") == "t");

  // More update and evaluation rows than one multi-row INSERT takes (1,000): all land, in order.
  coord::RoundRow r2 = r0;
  r2.round = 2;
  r2.selected = r2.received = 2500;
  std::vector<coord::UpdateRow> many(2500);
  std::vector<coord::EvalRow> evals(1001);
  for (std::uint32_t i = 0; i < many.size(); ++i) many[i] = {2, i, i, i, 0.5, 0.25, i, "counted", "", std::nullopt};
  for (std::uint32_t i = 0; i < evals.size(); ++i) evals[i] = {2, i, 1.0, i % 2 ? 1.0 : 0.0, 1};
  log.commit_round(run, r2, many, nullptr, nullptr, false, evals);
  CHECK(pg_number(url, "SELECT COUNT(*) FROM updates WHERE round=2") == 2500);
  CHECK(pg_number(url, "SELECT SUM(bytes) FROM updates WHERE round=2") == 2499.0 * 2500 / 2);
  CHECK(pg_number(url, "SELECT COUNT(*) FROM updates WHERE round=2 AND agreement IS NULL") == 2500);
  CHECK(pg_number(url, "SELECT fed_samples FROM rounds WHERE round=2") == 1001);
  CHECK(pg_number(url, "SELECT fed_accuracy FROM rounds WHERE round=2") == doctest::Approx(500.0 / 1001));

  log.mark_resumed(run);
  log.end_run(run, "completed");
  CHECK(pg_text(url, "SELECT status || ' ' || resumes FROM runs") == "completed 1");
  CHECK(!log.find_resumable().has_value());
  // A second open of the same database finds the tables and the version and adds nothing.
  coord::RoundLog again(url);
  CHECK(pg_number(url, "SELECT COUNT(*) FROM meta") == 1);
  CHECK(again.begin_run("{}", 1, "") == 2);
}

TEST_CASE("postgres: no server, a malformed URL, a foreign table or another schema version - a LogError naming the server and what to do") {
  PgServer& server = shared_pg_server();
  // No server at that socket: the message names the URL (without its password) and asks whether it runs.
  const std::string none = log_error("postgresql://signfed:secret@/nothing?host=/nonexistent-dir&port=5432");
  INFO(none);
  CHECK(none.find("cannot connect to the PostgreSQL round log postgresql://signfed:***@/nothing") != std::string::npos);
  CHECK(none.find("secret") == std::string::npos);
  CHECK(none.find("is the PostgreSQL server running") != std::string::npos);

  const std::string bad = log_error("postgresql://[::1");
  INFO(bad);
  CHECK(bad.find("the URL is malformed") != std::string::npos);

  const std::string missing = log_error(server.url("no_such_db"));
  INFO(missing);
  CHECK(missing.find("does not exist") != std::string::npos);
  CHECK(missing.find("createdb") != std::string::npos);

  // A database whose rounds table is someone else's.
  const std::string foreign = server.create_database("foreign");
  pg_text(foreign, "CREATE TABLE rounds(x int); SELECT 1");
  const std::string f = log_error(foreign);
  INFO(f);
  CHECK(f.find("table rounds has no column run_id") != std::string::npos);
  CHECK(f.find("not a signfed round log") != std::string::npos);

  const std::string newer = server.create_database("newer");
  { coord::RoundLog log(newer); }
  pg_text(newer, "UPDATE meta SET value='99' WHERE key='schema_version'; SELECT 1");
  const std::string v = log_error(newer);
  INFO(v);
  CHECK(v.find("schema version 99") != std::string::npos);
  CHECK(v.find("pass another database") != std::string::npos);
}

TEST_CASE("postgres: a federation logs the same rows as SQLite for the same seed - signfed-report and summarize_run read both alike") {
  const std::vector<std::string> args = {"--rounds", "24", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--seed", "5", "--checkpoint-every", "10", "--eval-every", "8",
                                         "--round-timeout", "20000"};
  Federation lite;
  lite.start_coordinator(2, args);
  lite.start_edges(2, {});
  lite.require_coordinator_success(300);

  Federation pg;
  pg.db = shared_pg_server().create_database("same_seed");
  pg.start_coordinator(2, args);
  pg.start_edges(2, {});
  pg.require_coordinator_success(300);
  CHECK(pg.coordinator->output().find("log postgresql://") != std::string::npos);

  const RunFacts a = facts_sqlite(lite.db), b = facts_pg(pg.db);
  CHECK(b.rounds == 24);
  CHECK(b.distinct_rounds == 24);
  CHECK(b.status == "completed");
  CHECK(b.rounds == a.rounds);
  CHECK(b.counted_updates == a.counted_updates);
  CHECK(b.uplink == a.uplink);
  CHECK(b.results == a.results);
  CHECK(b.clients == a.clients);
  CHECK(b.digests == a.digests);
  CHECK(b.result_digests == a.result_digests);
  CHECK(b.checkpoint_rounds == "0,9,19,23");
  CHECK(b.checkpoint_rounds == a.checkpoint_rounds);
  CHECK(b.last_params_hex.size() == 2 * 4 * 101770);
  CHECK(b.last_params_hex == a.last_params_hex);  // the bytea holds the very bytes of the SQLite BLOB
  check_edges(pg, pg_text(pg.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1"));

  // The report tools: the same summary from either log.
  const std::string lite_sum = run_script("summarize_run.py", lite.db, "", lite.dir.path + "/summary.txt");
  const std::string pg_sum = run_script("summarize_run.py", pg.db, "", pg.dir.path + "/summary.txt");
  MESSAGE("summarize_run.py on the PostgreSQL log:\n" << pg_sum);
  CHECK(pg_sum.find("rounds                            24") != std::string::npos);
  CHECK(pg_sum == lite_sum);
  const std::string pg_out = run_script("signfed-report", pg.db, "--out '" + pg.dir.path + "/report'",
                                        pg.dir.path + "/report.txt");
  CHECK(pg_out.find("report.html") != std::string::npos);
  run_script("signfed-report", lite.db, "--out '" + lite.dir.path + "/report'", lite.dir.path + "/report.txt");
  const std::string pg_html = slurp(pg.dir.path + "/report/report.html");
  CHECK(pg_html.find("data:image/png;base64,") != std::string::npos);
  CHECK(pg_html.find("<td>completed</td><td>2</td><td>24</td>") != std::string::npos);  // status, clients, rounds
  CHECK(report_tables(pg_html) == report_tables(slurp(lite.dir.path + "/report/report.html")));
}

TEST_CASE("postgres: SIGKILL the coordinator past a checkpoint - --resume against the server - final model equals an uninterrupted run's") {
  // signum with momentum: the replay of the logged results must rebuild the momentum buffer too.
  const std::vector<std::string> args = {"--rounds", "80", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--seed", "11", "--checkpoint-every", "25", "--eval-every", "1",
                                         "--test-limit", "2000", "--round-timeout", "20000"};
  PgServer& server = shared_pg_server();
  Federation whole;  // the same seed, never interrupted
  whole.db = server.create_database("whole");
  whole.start_coordinator(3, args);
  whole.start_edges(3, {});
  whole.require_coordinator_success(300);
  const std::string want = pg_text(whole.db, "SELECT model_digest FROM rounds WHERE round=79");
  REQUIRE(want.size() == 16);

  Federation f;
  f.db = server.create_database("killed");
  { coord::RoundLog tables(f.db); }  // so that the progress query below works before the coordinator is up
  f.start_coordinator(3, args);
  f.start_edges(3, {"--rejoin-after", "1000"});
  // The checkpoint of round 24, then rounds logged only as results: kill it without warning.
  const auto logged = [&] { return pg_number(f.db, "SELECT COUNT(*) FROM rounds"); };
  REQUIRE(wait_until(120, [&] { return logged() >= 40; }));
  f.coordinator->signal(SIGKILL);
  CHECK(f.coordinator->wait(10) == 128 + SIGKILL);
  const double at_kill = logged();
  const double last_ckpt = pg_number(f.db, "SELECT MAX(round) FROM checkpoints");
  MESSAGE("coordinator killed after " << at_kill << " logged rounds, last checkpoint round " << last_ckpt);
  REQUIRE(at_kill < 80);
  CHECK(last_ckpt == 24);
  CHECK(pg_number(f.db, "SELECT COUNT(*) FROM results") == at_kill);
  CHECK(pg_text(f.db, "SELECT status FROM runs") == "running");

  f.start_coordinator(3, {"--join-timeout", "60000"}, /*resume=*/true);
  f.require_coordinator_success(300);
  INFO(f.coordinator->output());
  CHECK(f.coordinator->output().find("resuming run") != std::string::npos);
  CHECK(f.coordinator->output().find("replayed rounds 25..") != std::string::npos);
  CHECK(pg_number(f.db, "SELECT COUNT(*) FROM rounds") == 80);
  CHECK(pg_number(f.db, "SELECT COUNT(DISTINCT round) FROM rounds") == 80);
  CHECK(pg_number(f.db, "SELECT COUNT(*) FROM results") == 80);
  CHECK(pg_number(f.db, "SELECT COUNT(*) FROM runs") == 1);
  CHECK(pg_text(f.db, "SELECT status || ' ' || resumes FROM runs") == "completed 1");
  CHECK(pg_text(f.db, "SELECT model_digest FROM rounds WHERE round=79") == want);
  CHECK(pg_text(f.db, "SELECT string_agg(round::text, ',' ORDER BY round) FROM checkpoints") == "0,24,49,74,79");
  check_edges(f, want);
}

TEST_CASE("postgres: the server stops mid-run - the coordinator exits naming the lost connection - after a restart --resume completes") {
  const std::vector<std::string> args = {"--rounds", "80", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--checkpoint-every", "25", "--eval-every", "1", "--test-limit", "2000",
                                         "--round-timeout", "20000"};
  PgServer& server = shared_pg_server();
  Federation f;
  f.db = server.create_database("lost");
  { coord::RoundLog tables(f.db); }
  f.start_coordinator(2, args);
  f.start_edges(2, {"--rejoin-after", "1000"});
  const auto logged = [&] { return pg_number(f.db, "SELECT COUNT(*) FROM rounds"); };
  REQUIRE(wait_until(120, [&] { return logged() >= 20; }));
  server.stop();  // clients disconnected: the coordinator's next write fails
  const int rc = f.coordinator->wait(60);
  server.start();
  {
    INFO(f.coordinator->output());
    CHECK(rc == 1);
    CHECK(f.coordinator->output().find("the connection to the server was lost") != std::string::npos);
    CHECK(f.coordinator->output().find("rerun with --resume") != std::string::npos);
  }
  const double at_stop = logged();
  MESSAGE("server stopped after " << at_stop << " logged rounds");
  REQUIRE(at_stop < 80);
  CHECK(pg_number(f.db, "SELECT MAX(round) FROM rounds") == at_stop - 1);  // whole rounds only

  f.start_coordinator(2, {"--join-timeout", "60000"}, /*resume=*/true);
  f.require_coordinator_success(300);
  CHECK(pg_number(f.db, "SELECT COUNT(*) FROM rounds") == 80);
  CHECK(pg_number(f.db, "SELECT COUNT(DISTINCT round) FROM rounds") == 80);
  CHECK(pg_text(f.db, "SELECT status || ' ' || resumes FROM runs") == "completed 1");
  check_edges(f, pg_text(f.db, "SELECT model_digest FROM rounds WHERE round=79"));
}
