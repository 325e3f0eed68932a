// signfed-bench-roundlog: the round log's commit per round on PostgreSQL
// against SQLite (the baseline), timed in the same run: M update rows and the
// vote log's result (a dense sign packet of the default MLP, 12,722 bytes)
// every round, a full checkpoint (407,080 bytes) every --checkpoint-every
// rounds. Prints the median and the 90th percentile of commit_round in ms and
// PostgreSQL's median over SQLite's.
// Usage: signfed-bench-roundlog --pg URL [--sqlite FILE] [--updates 50] [--rounds 300] [--checkpoint-every 100]
// The PostgreSQL database should be empty (a new run is appended either way);
// docs/postgresql.md shows how to start a throwaway server.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "coordinator/round_log.h"

namespace {

struct Stats {
  double median_ms = 0, p90_ms = 0;
};

Stats bench(const std::string& db, std::uint32_t updates, std::uint32_t rounds, std::uint32_t checkpoint_every) {
  using namespace signfed::coord;
  RoundLog log(db);
  const std::int64_t run = log.begin_run("{}", rounds, "bench");
  Checkpoint ck;
  ck.params.assign(101770, 0.5f);
  ResultRow res;
  res.packet.assign(12722, 0x5a);
  std::vector<UpdateRow> ups(updates);
  for (std::uint32_t i = 0; i < updates; ++i) ups[i] = {0, i, 13000, 12722, 12.5, 0.7, 64, "counted", "", 0.6};
  std::vector<double> ms;
  for (std::uint32_t r = 0; r < rounds; ++r) {
    RoundRow row;
    row.round = r;
    row.selected = row.received = updates;
    row.margin_hist = "[1,2,3,4,5,6,7,8]";
    row.test_accuracy = 0.8;
    for (UpdateRow& u : ups) u.round = r;
    res.round = r;
    ck.round = r;
    const bool with_ckpt = r == 0 || (r + 1) % checkpoint_every == 0;
    const auto t0 = std::chrono::steady_clock::now();
    log.commit_round(run, row, ups, &res, with_ckpt ? &ck : nullptr, true);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  log.end_run(run, "completed");
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 9 / 10]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"the round log's commit per round: PostgreSQL against SQLite in the same run"};
  std::string pg, sqlite = "/tmp/signfed-bench-roundlog.sqlite";
  std::uint32_t updates = 50, rounds = 300, every = 100;
  app.add_option("--pg", pg, "postgresql:// URL of an empty database")->required();
  app.add_option("--sqlite", sqlite, "SQLite file for the baseline (replaced)");
  app.add_option("--updates", updates, "update rows per round (M)")->check(CLI::Range(1u, 100000u));
  app.add_option("--rounds", rounds, "rounds")->check(CLI::Range(10u, 1000000u));
  app.add_option("--checkpoint-every", every, "rounds between checkpoints")->check(CLI::Range(1u, 1000000u));
  CLI11_PARSE(app, argc, argv);
  for (const char* ext : {"", "-wal", "-shm"}) std::remove((sqlite + ext).c_str());
  try {
    const Stats s = bench(sqlite, updates, rounds, every);
    const Stats p = bench(pg, updates, rounds, every);
    fmt::print("commit_round, M={} updates, {} rounds, checkpoint every {}:\n", updates, rounds, every);
    fmt::print("  SQLite      median {:.3f} ms  p90 {:.3f} ms\n", s.median_ms, s.p90_ms);
    fmt::print("  PostgreSQL  median {:.3f} ms  p90 {:.3f} ms\n", p.median_ms, p.p90_ms);
    fmt::print("  PostgreSQL / SQLite (median): {:.2f}x\n", p.median_ms / s.median_ms);
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-bench-roundlog: {}\n", e.what());
    return 1;
  }
  for (const char* ext : {"", "-wal", "-shm"}) std::remove((sqlite + ext).c_str());
  return 0;
}
