// Crashes: an edge client SIGKILLed mid-run and restarted; the coordinator
// SIGKILLed mid-run under CURVE and resumed; a read-only database and a full
// disk (a real tmpfs when this process may mount one).
#include <doctest/doctest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "tests/e2e/federation.h"

using namespace signfed;
using namespace signfed::test;

namespace {

void wait_rounds(const std::string& db, double n, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (query_number(db, "SELECT COUNT(*) FROM rounds") < n && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void check_rounds_once(const std::string& db, int rounds) {
  CHECK(query_number(db, "SELECT COUNT(*) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT COUNT(DISTINCT round) FROM rounds") == rounds);
  CHECK(query_number(db, "SELECT MAX(round) FROM rounds") == rounds - 1);
}

// A small tmpfs at dir (root with CAP_SYS_ADMIN only); false if it cannot be mounted.
bool mount_tmpfs(const std::string& dir, const char* size) {
  ::mkdir(dir.c_str(), 0755);
  return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, size) == 0;
}

}  // namespace

TEST_CASE("crash: an edge SIGKILLed mid-round - rounds close by deadline - restarted, it rejoins with the right model") {
  Federation f;
  f.start_coordinator(4, {"--rounds", "60", "--round-timeout", "1500", "--eval-every", "60", "--lr", "0.001",
                          "--batch", "64"});
  f.start_edges(4, {"--partition", "iid"});
  wait_rounds(f.db, 15, 120);
  f.edges[3]->signal(SIGKILL);
  CHECK(f.edges[3]->wait(10) == 128 + SIGKILL);
  const double at_kill = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  f.start_edge(3, 4, {"--partition", "iid"});
  f.require_coordinator_success(300);
  check_rounds_once(f.db, 60);
  MESSAGE("edge-3 killed after " << at_kill << " rounds");
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE dropped > 0") >= 1);  // closed by the deadline
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE client_id=3 AND status='counted' AND round > " +
                               std::to_string(at_kill + 3)) >= 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients") == 4);
  f.check_edges_final_model();
}

TEST_CASE("crash: coordinator SIGKILLed mid-round under CURVE - --resume - clients reconnect by themselves") {
  Federation f;
  f.make_keys(3, 3);
  const std::vector<std::string> args = {"--rounds", "80", "--method", "signum", "--momentum", "0.5", "--lr", "0.001",
                                         "--eval-every", "40", "--round-timeout", "20000"};
  f.start_coordinator(3, args);
  f.start_edges(3, {"--rejoin-after", "1000"});
  wait_rounds(f.db, 25, 120);
  f.coordinator->signal(SIGKILL);
  CHECK(f.coordinator->wait(10) == 128 + SIGKILL);
  const double at_kill = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  CHECK(at_kill < 80);
  const std::string digest_at_kill =
      query_text(f.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  f.start_coordinator(3, {"--join-timeout", "60000"}, /*resume=*/true);
  f.require_coordinator_success(300);
  check_rounds_once(f.db, 80);
  CHECK(query_number(f.db, "SELECT resumes FROM runs") == 1);
  // The digest logged for the last round before the kill is unchanged: nothing was re-logged.
  CHECK(query_text(f.db, "SELECT model_digest FROM rounds WHERE round=" + std::to_string(at_kill - 1)) == digest_at_kill);
  f.check_edges_final_model();
}

TEST_CASE("crash: a read-only database gives a clear error and a non-zero exit - the file stays intact") {
  Federation f;
  const std::string dir = f.dir.path + "/ro";
  const bool mounted = mount_tmpfs(dir, "size=64m");
  if (!mounted) ::mkdir(dir.c_str(), 0755);
  f.db = dir + "/run.sqlite";
  f.start_coordinator(1, {"--rounds", "3", "--eval-every", "0"});
  f.start_edges(1, {});
  REQUIRE(f.coordinator->wait(120) == 0);
  f.edges[0]->wait(30);
  std::string how;
  std::string bin = SIGNFED_COORDINATOR_BIN;
  std::vector<std::string> args = {"--endpoint", "tcp://127.0.0.1:" + std::to_string(free_tcp_port()), "--insecure",
                                   "--db", f.db, "--clients", "1", "--rounds", "3", "--join-timeout", "2000"};
  if (mounted && ::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64m") == 0) {
    how = "read-only tmpfs mount (EROFS)";
  } else if (::geteuid() != 0) {
    ::chmod(f.db.c_str(), 0444);
    ::chmod(dir.c_str(), 0555);
    how = "chmod 0444 file, 0555 directory";
  } else {
    // root ignores file modes: run the coordinator as nobody against 0444/0555.
    ::chmod(f.dir.path.c_str(), 0755);
    ::chmod(f.db.c_str(), 0444);
    ::chmod(dir.c_str(), 0555);
    args.insert(args.begin(), {"--reuid=65534", "--regid=65534", "--clear-groups", bin});
    bin = "/usr/bin/setpriv";
    how = "chmod 0444/0555, coordinator run as nobody";
  }
  MESSAGE("read-only database by " << how);
  Process c(bin, args, f.dir.path + "/ro.log");
  const int rc = c.wait(60);
  INFO(c.output());
  CHECK(rc == 1);
  CHECK((c.output().find("not writable") != std::string::npos || c.output().find("readonly") != std::string::npos));
  // Writable again (a WAL file cannot be opened at all on a read-only mount): intact, nothing changed.
  if (mounted) ::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT, "size=64m");
  ::chmod(dir.c_str(), 0755);
  ::chmod(f.db.c_str(), 0644);
  CHECK(query_text(f.db, "PRAGMA integrity_check") == "ok");
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == 3);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM runs") == 1);
  if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
}

TEST_CASE("crash: the disk fills mid-run: clear error, non-zero exit, intact file, --resume after freeing space") {
  Federation f;
  const std::string dir = f.dir.path + "/full";
  const bool mounted = mount_tmpfs(dir, "size=3m");
  f.db = dir + "/run.sqlite";
  std::vector<std::string> args = {"--rounds", "120", "--eval-every", "0", "--checkpoint-every", "1",
                                   "--round-timeout", "20000"};
  if (!mounted) {
    ::mkdir(dir.c_str(), 0755);
    args.insert(args.end(), {"--db-max-pages", "700"});  // ~2.8 MB at 4 KiB pages: SQLITE_FULL as on a full disk
  }
  MESSAGE("full disk by " << std::string(mounted ? "a 3 MB tmpfs" : "PRAGMA max_page_count (no mount permission)"));
  f.start_coordinator(2, args);
  f.start_edges(2, {"--rejoin-after", "1000"});
  const int rc = f.coordinator->wait(300);
  INFO(f.coordinator->output());
  CHECK(rc == 1);
  CHECK(f.coordinator->output().find("disk is full") != std::string::npos);
  CHECK(query_text(f.db, "PRAGMA integrity_check") == "ok");
  const double logged = query_number(f.db, "SELECT COUNT(*) FROM rounds");
  MESSAGE("rounds logged before the disk was full: " << logged);
  CHECK(logged > 0);
  CHECK(logged < 120);
  CHECK(query_number(f.db, "SELECT MAX(round) FROM rounds") == logged - 1);
  // Free space and resume: the run completes with every round logged once.
  if (mounted) REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT, "size=256m") == 0);
  f.start_coordinator(2, {"--join-timeout", "60000"}, /*resume=*/true);
  const int rc2 = f.coordinator->wait(300);
  INFO(f.coordinator->output());
  CHECK(rc2 == 0);
  check_rounds_once(f.db, 120);
  CHECK(query_text(f.db, "PRAGMA integrity_check") == "ok");
  for (auto& e : f.edges) e->wait(30);
  if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
}
