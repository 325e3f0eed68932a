// signfed-export: the npz numpy reads (a numpy forward pass reproduces
// signfed's logits), the run and round it picks, and every error a user can
// cause, each with its message. Label: unit.
#include <doctest/doctest.h>

#include <SQLiteCpp/Database.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tests/e2e/process.h"
#include "tests/export/export_fixture.h"

namespace signfed::test {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void check_npz(const std::string& model) {
  TempDir dir;
  const ExportRun run = write_run(dir.path + "/run.sqlite", model, true, 300);
  const std::string npz = dir.path + "/model.npz";
  std::string out;
  REQUIRE_MESSAGE(run_export({run.db, "-o", npz}, &out, dir.path + "/export.log") == 0, out);
  CHECK_MESSAGE(has(out, "(npz)"), out);  // chosen from the extension
  double diff = -1;
  const int rc = run_check("npz", npz, run, dir.path, &out, &diff);
  INFO(out);
  REQUIRE(rc == 0);
  MESSAGE(model, ": numpy on the npz vs signfed logits, max abs diff ", diff);
  CHECK(diff >= 0.0);
  CHECK(diff <= 1e-4);
}

TEST_CASE("export npz: a numpy forward pass over the mlp's arrays gives signfed's logits") { check_npz("mlp"); }

TEST_CASE("export npz: a numpy forward pass over the cnn's arrays (signfed's HWC layout) gives signfed's logits") {
  check_npz("cnn");
}

TEST_CASE("export: the latest run and round by default, --round any logged round (replayed from the vote log)") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite", onnx = dir.path + "/m.onnx";
  write_run(db, "mlp:784-16-10", false, 1);
  const ExportRun two = write_run(db, "mlp:784-8-10", false, 1);  // run 2
  std::string out;
  int n = 0;
  const auto run = [&](std::vector<std::string> args) {
    return run_export(args, &out, dir.path + "/export-" + std::to_string(n++) + ".log");
  };
  const auto digest = [&](std::size_t round) { return fmt::format("digest {:016x}", two.digests.at(round)); };

  REQUIRE_MESSAGE(run({db, "-o", onnx}) == 0, out);
  CHECK_MESSAGE(has(out, "run 2 round 2, model mlp:784-8-10"), out);
  CHECK_MESSAGE(has(out, digest(2)), out);
  REQUIRE_MESSAGE(run({db, "--run", "1", "--round", "0", "-o", onnx, "--format", "onnx"}) == 0, out);
  CHECK_MESSAGE(has(out, "run 1 round 0, model mlp:784-16-10"), out);
  // Round 1 has no checkpoint: round 0's, with round 1's logged result replayed onto it.
  REQUIRE_MESSAGE(run({db, "--round", "1", "-o", onnx}) == 0, out);
  CHECK_MESSAGE(has(out, "run 2 round 1, model mlp:784-8-10"), out);
  CHECK_MESSAGE(has(out, digest(1)), out);

  CHECK(run({db, "--run", "9", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "has no run 9; its runs: 1, 2"), out);
  CHECK(run({db, "--round", "7", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "has no model for round 7: export a round from 0 to 2"), out);
  CHECK(run({db, "--round", "x", "-o", onnx}) != 0);
  CHECK_MESSAGE(has(out, "--round"), out);

  // A damaged vote log: the replay stops at the round, nothing is written.
  {
    SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("UPDATE results SET step = step * 2 WHERE run_id = 2 AND round = 1");
  }
  std::filesystem::remove(onnx);
  CHECK(run({db, "--round", "1", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "cannot replay round 1"), out);
  CHECK_MESSAGE(has(out, "the round log is damaged"), out);
  CHECK_FALSE(std::filesystem::exists(onnx));
}

TEST_CASE("export: missing, foreign and corrupt files, unknown formats and unwritable outputs say what is wrong") {
  TempDir dir;
  const std::string db = dir.path + "/run.sqlite", onnx = dir.path + "/m.onnx";
  write_run(db, "mlp:784-8-10", false, 1);
  std::string out;
  int n = 0;
  const auto run = [&](std::vector<std::string> args) {
    return run_export(args, &out, dir.path + "/export-" + std::to_string(n++) + ".log");
  };

  CHECK(run({dir.path + "/none.sqlite", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "none.sqlite: no such file"), out);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/none.sqlite"));  // opened read-only, never created

  std::ofstream(dir.path + "/text.sqlite") << "not a database, just text\n";
  CHECK(run({dir.path + "/text.sqlite", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "text.sqlite is not a signfed round log"), out);

  { SQLite::Database other(dir.path + "/other.sqlite", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE t(x)"); }
  CHECK(run({dir.path + "/other.sqlite", "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "other.sqlite is not a signfed round log"), out);

  CHECK(run({db, "-o", onnx, "--format", "tflite"}) == 2);
  CHECK_MESSAGE(has(out, "unknown --format 'tflite': expected onnx or npz"), out);

  for (const char* format : {"onnx", "npz"}) {
    CHECK(run({db, "-o", dir.path + "/no/such/dir/m.out", "--format", format}) == 1);
    CHECK_MESSAGE(has(out, "cannot write " + dir.path + "/no/such/dir/m.out"), out);
  }

  { SQLite::Database d(db, SQLite::OPEN_READWRITE);
    d.exec("UPDATE checkpoints SET digest='0123456789abcdef' WHERE round=2"); }
  CHECK(run({db, "-o", onnx}) == 1);
  CHECK_MESSAGE(has(out, "round 2: stored parameters hash to"), out);
  CHECK_MESSAGE(has(out, "but the log says 0123456789abcdef"), out);
  CHECK_MESSAGE(run({db, "--round", "0", "-o", onnx}) == 0, out);  // an intact round still exports
}

}  // namespace
}  // namespace signfed::test
