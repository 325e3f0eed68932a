// RoundLog on a real SQLite file: round transactions, resume points, and the
// errors a user meets (not a database, read-only, corrupt).
#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "coordinator/round_log.h"
#include "tests/support/sql_query.h"

using namespace signfed::coord;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/signfed-log-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

std::int64_t count(const std::string& db, const std::string& sql) {
  return static_cast<std::int64_t>(signfed::test::query_number(db, sql));
}

Checkpoint ckpt(std::int64_t round, float v) {
  Checkpoint c;
  c.round = round;
  c.params.assign(10, v);
  c.digest = 0x1234 + static_cast<std::uint64_t>(round);
  return c;
}

}  // namespace

TEST_CASE("round_log: rounds, updates and checkpoints commit together and resume finds the last") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  {
    RoundLog log(db);
    const auto run = log.begin_run(R"({"rounds":5})", 5, "t");
    ClientRow c{0, "edge-0", "Linux", "x86_64", "iid 0/1", 600, ""};
    log.upsert_client(run, c, 1.0);
    for (std::uint32_t r = 0; r < 3; ++r) {
      RoundRow row;
      row.round = r;
      row.uplink_bytes = 100 + r;
      UpdateRow u;
      u.round = r;
      u.bytes = 100 + r;
      u.status = "counted";
      log.commit_round(run, row, {u}, ckpt(r, static_cast<float>(r)), r == 1);
    }
    CHECK_THROWS_AS(log.commit_round(run, RoundRow{}, {}, ckpt(0, 0), false), LogError);  // round 0 twice
  }
  CHECK(count(db, "SELECT COUNT(*) FROM rounds") == 3);
  CHECK(count(db, "SELECT COUNT(*) FROM updates") == 3);
  CHECK(count(db, "SELECT SUM(uplink_bytes) FROM rounds") == 303);
  // History kept for round 1, the latest (2) for resume, the rest pruned.
  CHECK(count(db, "SELECT COUNT(*) FROM checkpoints") == 2);
  CHECK(count(db, "SELECT value FROM meta WHERE key='schema_version'") == kLogSchemaVersion);

  RoundLog again(db);
  const auto p = again.find_resumable();
  REQUIRE(p.has_value());
  CHECK(p->checkpoint.round == 2);
  CHECK(p->checkpoint.params == std::vector<float>(10, 2.0f));
  CHECK(p->checkpoint.digest == 0x1234 + 2);
  REQUIRE(p->clients.size() == 1);
  CHECK(p->clients[0].name == "edge-0");
  again.end_run(p->run_id, "completed");
  CHECK_FALSE(again.find_resumable().has_value());
}

TEST_CASE("round_log: a file that is not a database is refused with advice") {
  TempDir dir;
  const std::string db = dir.path + "/junk.sqlite";
  std::ofstream(db) << std::string(4096, 'x');
  CHECK_THROWS_WITH_AS(RoundLog{db}, doctest::Contains("another --db"), LogError);
}

TEST_CASE("round_log: a missing directory names the problem") {
  CHECK_THROWS_WITH_AS(RoundLog{"/nonexistent-dir-signfed/run.sqlite"}, doctest::Contains("cannot open"), LogError);
}

TEST_CASE("round_log: counts that cannot be true are refused - dropped or received beyond selected, samples beyond INTEGER") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite";
  RoundLog log(db);
  const auto run = log.begin_run("{}", 5, "");
  RoundRow row;
  row.round = 0;
  row.selected = 3;
  row.received = 2;
  row.dropped = 4294967288u;  // what the subtraction of issue 11 wrote
  CHECK_THROWS_WITH_AS(log.commit_round(run, row, {}, ckpt(0, 0), false), doctest::Contains("CHECK constraint"),
                       LogError);
  row.dropped = 2;  // received + dropped > selected
  CHECK_THROWS_AS(log.commit_round(run, row, {}, ckpt(0, 0), false), LogError);
  row.received = 4;
  row.dropped = 0;
  CHECK_THROWS_AS(log.commit_round(run, row, {}, ckpt(0, 0), false), LogError);
  row.received = 2;
  row.dropped = 1;
  log.commit_round(run, row, {}, ckpt(0, 0), false);
  CHECK(count(db, "SELECT dropped FROM rounds") == 1);

  ClientRow c{0, "edge-0", "Linux", "x86_64", "iid", UINT64_MAX, ""};  // would be stored as -1
  CHECK_THROWS_WITH_AS(log.upsert_client(run, c, 1.0), doctest::Contains("exceeds"), LogError);
  c.samples = std::uint64_t{1} << 40;
  log.upsert_client(run, c, 1.0);
  CHECK(signfed::test::query_text(db, "SELECT CAST(samples AS TEXT) FROM clients") == "1099511627776");
}

TEST_CASE("round_log: a database from before rounds.refused gets the column, keeps its rows and logs refusals") {
  TempDir dir;
  const std::string db = dir.path + "/old.sqlite";
  {
    RoundLog log(db);
    const auto run = log.begin_run("{}", 2, "");
    log.commit_round(run, RoundRow{}, {}, ckpt(0, 0.0f), false);
  }
  {  // as a build before the column wrote it
    SQLite::Database h(db, SQLite::OPEN_READWRITE);
    h.exec("ALTER TABLE rounds DROP COLUMN refused");
  }
  CHECK(count(db, "SELECT COUNT(*) FROM pragma_table_info('rounds') WHERE name='refused'") == 0);
  RoundLog log(db);
  CHECK(count(db, "SELECT COUNT(*) FROM pragma_table_info('rounds') WHERE name='refused'") == 1);
  RoundRow r;
  r.round = 1;
  r.refused = "aggregate L2 norm above FLT_MAX";
  log.commit_round(1, r, {}, ckpt(1, 1.0f), false);
  CHECK(count(db, "SELECT COUNT(*) FROM rounds WHERE refused IS NULL") == 1);  // round 0, logged before
  CHECK(signfed::test::query_text(db, "SELECT refused FROM rounds WHERE round=1") == "aggregate L2 norm above FLT_MAX");
}
