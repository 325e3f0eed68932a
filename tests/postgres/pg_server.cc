#include "tests/postgres/pg_server.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace signfed::test {
namespace {

std::string find_bindir() {
  if (const char* e = std::getenv("SIGNFED_PG_BINDIR")) return e;
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (std::filesystem::exists(d.path() / "bin" / "pg_ctl")) found.push_back(d.path() / "bin");
  if (found.empty()) return "";  // PATH
  // Newest major version: compare as numbers (10 after 9).
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::atoi(a.parent_path().filename().c_str()) < std::atoi(b.parent_path().filename().c_str());
  });
  return found.back().string();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct ConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};

// The first cell of sql's result; nullopt-like: {false, ""} for no row or NULL.
std::pair<bool, std::string> first_cell(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, ConnFree> c(PQconnectdb(url.c_str()));
  INFO(url);
  REQUIRE_MESSAGE(PQstatus(c.get()) == CONNECTION_OK, std::string(PQerrorMessage(c.get())));
  std::unique_ptr<PGresult, ResultFree> r(PQexec(c.get(), sql.c_str()));
  INFO(sql);
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_TUPLES_OK, std::string(PQresultErrorMessage(r.get())));
  if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return {false, ""};
  return {true, PQgetvalue(r.get(), 0, 0)};
}

}  // namespace

PgServer::PgServer() : bindir_(find_bindir()) {
  const std::string bin = bindir_.empty() ? "" : bindir_ + "/";
  if (geteuid() == 0) {
    // initdb refuses root: the server runs as nobody, owning its dir.
    if (std::system(("chown nobody:nogroup '" + dir_.path + "'").c_str()) != 0)
      throw std::runtime_error("PostgreSQL test server: cannot chown " + dir_.path + " to nobody");
    prefix_ = "setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME='" + dir_.path + "' ";
  }
  const std::string log = dir_.path + "/setup.log";
  run("initdb", prefix_ + bin + "initdb -D '" + dir_.path + "/data' -A trust -U signfed -E UTF8 --no-sync > '" + log +
                    "' 2>&1");
  start();
}

void PgServer::start() {
  const std::string bin = bindir_.empty() ? "" : bindir_ + "/";
  // fsync off: a test server; its data need not survive a power cut.
  run("pg_ctl start", prefix_ + bin + "pg_ctl -D '" + dir_.path + "/data' -l '" + dir_.path + "/server.log' -w -t 60 " +
                          "-o \"-k '" + dir_.path + "' -p 5432 -c listen_addresses='' -c fsync=off\" start >> '" +
                          dir_.path + "/setup.log' 2>&1");
  started_ = true;
}

void PgServer::stop() {
  const std::string bin = bindir_.empty() ? "" : bindir_ + "/";
  run("pg_ctl stop", prefix_ + bin + "pg_ctl -D '" + dir_.path + "/data' -m fast -w stop >> '" + dir_.path +
                         "/setup.log' 2>&1");
  started_ = false;
}

PgServer::~PgServer() {
  if (!started_) return;
  const std::string bin = bindir_.empty() ? "" : bindir_ + "/";
  std::system((prefix_ + bin + "pg_ctl -D '" + dir_.path + "/data' -m immediate -w stop > /dev/null 2>&1").c_str());
}

void PgServer::run(const std::string& what, const std::string& cmd) const {
  if (std::system(cmd.c_str()) == 0) return;
  throw std::runtime_error("PostgreSQL test server: " + what + " failed (install Debian's postgresql package, or set "
                           "SIGNFED_PG_BINDIR): " + cmd + "\n" + slurp(dir_.path + "/setup.log") +
                           slurp(dir_.path + "/server.log"));
}

std::string PgServer::url(const std::string& database) const {
  return "postgresql:///" + database + "?host=" + dir_.path + "&port=5432&user=signfed";
}

std::string PgServer::create_database(const std::string& name) {
  first_cell(url("postgres"), "SELECT 1");  // the server answers
  std::unique_ptr<PGconn, ConnFree> c(PQconnectdb(url("postgres").c_str()));
  std::unique_ptr<PGresult, ResultFree> r(PQexec(c.get(), ("CREATE DATABASE \"" + name + "\"").c_str()));
  INFO(name);
  REQUIRE_MESSAGE(PQresultStatus(r.get()) == PGRES_COMMAND_OK, std::string(PQresultErrorMessage(r.get())));
  return url(name);
}

PgServer& shared_pg_server() {
  static PgServer server;  // a failed start throws again at the next use: every test that needs it fails
  return server;
}

std::string pg_text(const std::string& url, const std::string& sql) { return first_cell(url, sql).second; }

double pg_number(const std::string& url, const std::string& sql) {
  const auto [has, v] = first_cell(url, sql);
  return has ? std::stod(v) : -1.0;
}

}  // namespace signfed::test
