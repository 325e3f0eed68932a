// A real PostgreSQL server for the postgres suites, started in a temp dir:
// initdb -A trust -U signfed, then pg_ctl start listening only on a unix
// socket in that dir (no TCP port, so no clash with another server or test
// run). As root (CI) the server runs as nobody (initdb refuses root); as a
// normal user it runs as that user. Binaries: $SIGNFED_PG_BINDIR, else the
// newest /usr/lib/postgresql/*/bin (Debian), else PATH.
// Stopped with pg_ctl stop -m immediate and its dir removed at destruction.
// If it cannot start, the constructor throws with the reason and the server
// log, so the test fails (never skips). Not thread-safe.
#pragma once

#include <string>

#include "tests/e2e/process.h"

namespace signfed::test {

class PgServer {
 public:
  PgServer();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Stops the server (pg_ctl stop -m fast: clients are disconnected) and
  // starts it again on the same data; the tests of a lost server.
  void stop();
  void start();

  // A new empty database; returns its postgresql:// URL (user signfed, the socket dir as host).
  std::string create_database(const std::string& name);
  std::string url(const std::string& database) const;

 private:
  TempDir dir_;
  std::string bindir_, prefix_;  // prefix_: "setpriv ... " when the server runs as nobody
  bool started_ = false;
  void run(const std::string& what, const std::string& cmd) const;
};

// The suite's one server, started at first use (about a second) and stopped at exit.
PgServer& shared_pg_server();

// The first column of the first row of sql on the database at url, as text
// ("" when there is no row or it is NULL) or as a number (-1 then).
// A failed query fails the calling test (REQUIRE).
std::string pg_text(const std::string& url, const std::string& sql);
double pg_number(const std::string& url, const std::string& sql);

}  // namespace signfed::test
