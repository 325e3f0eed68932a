// Boards with their own data: each edge trains a model file's architecture
// (received in Welcome; no --model on the board) on its own CSV file, and a
// board whose data does not fit the model is refused with both shapes named.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/data/rng.h"
#include "tests/e2e/federation.h"
#include "tests/support/temp_db.h"

namespace signfed::test {
namespace {

// n rows of `features` columns and a label column; class 1 is likely with
// probability p1. Class c's features centre on +-1 with noise of std 0.7.
void write_board_csv(const std::string& path, int n, int features, double p1, std::uint64_t seed) {
  data::Rng rng(seed);
  std::ofstream out(path);
  for (int f = 0; f < features; ++f) out << "x" << f << ",";
  out << "label\n";
  for (int i = 0; i < n; ++i) {
    const int label = rng.uniform() < p1 ? 1 : 0;
    for (int f = 0; f < features; ++f) {
      const double noise = (rng.uniform() + rng.uniform() + rng.uniform() - 1.5) * 1.4;
      out << (label ? 1.0 : -1.0) * (f % 2 ? 1.0 : -1.0) + noise << ",";
    }
    out << label << "\n";
  }
}

std::unique_ptr<Process> start_board(Federation& f, const std::string& name, const std::string& data) {
  return std::make_unique<Process>(SIGNFED_EDGE_BIN,
                                   std::vector<std::string>{"--connect", f.endpoint, "--insecure", "--name", name,
                                                            "--data", data, "--rejoin-after", "1000"},
                                   f.dir.path + "/" + name + ".log");
}

}  // namespace

TEST_CASE("e2e: boards train a model file on their own CSV files - data that does not fit is refused, both shapes named") {
  Federation f;
  const std::string model = f.dir.path + "/model.json";
  std::ofstream(model) << R"({"input": [8], "layers": [{"type": "dense", "units": 16}, {"type": "relu"},
                              {"type": "dense", "units": 2}], "loss": "softmax_cross_entropy"})";
  write_board_csv(f.dir.path + "/a.csv", 300, 8, 0.2, 1);  // mostly class 0
  write_board_csv(f.dir.path + "/b.csv", 300, 8, 0.8, 2);  // mostly class 1
  write_board_csv(f.dir.path + "/wrong.csv", 50, 5, 0.5, 3);
  write_board_csv(f.dir.path + "/test.csv", 400, 8, 0.5, 4);  // the coordinator's central test set
  // A test file that does not fit the model stops the coordinator before any board joins.
  f.start_coordinator(2, {"--model", model, "--test", f.dir.path + "/wrong.csv", "--no-standardise"});
  CHECK(f.coordinator->wait(30) == 1);
  CHECK(f.coordinator->output().find("5 features and 2 classes, but the model takes 8 inputs") != std::string::npos);
  std::filesystem::remove(f.db);
  f.start_coordinator(2, {"--model", model, "--rounds", "40", "--method", "signsgd", "--lr", "0.005", "--batch", "16",
                          "--eval-every", "20", "--test", f.dir.path + "/test.csv", "--no-standardise",
                          "--round-timeout", "20000"});

  auto wrong = start_board(f, "wrong", f.dir.path + "/wrong.csv");
  CHECK(wrong->wait(30) == 1);
  {
    INFO(wrong->output());
    CHECK(wrong->output().find("your samples have shape [5] (5 features) and labels of 2 classes; the model takes 8 "
                               "inputs and 2 classes") != std::string::npos);
  }
  auto a = start_board(f, "a", f.dir.path + "/a.csv");
  auto b = start_board(f, "b", f.dir.path + "/b.csv");
  f.require_coordinator_success(300);
  for (auto* p : {a.get(), b.get()}) {
    INFO(p->output());
    CHECK(p->wait(60) == 0);
    CHECK(p->output().find("matches the coordinator") != std::string::npos);  // one model, bit-identical replicas
  }
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients WHERE data_desc LIKE 'local %.csv'") == 2);
  const double first = query_number(f.db, "SELECT AVG(local_loss) FROM updates WHERE round < 3 AND status='counted'");
  const double last = query_number(f.db, "SELECT AVG(local_loss) FROM updates WHERE round >= 37 AND status='counted'");
  MESSAGE("training loss " << first << " -> " << last);
  CHECK(last < 0.5 * first);
  const double test_accuracy = query_number(f.db, "SELECT test_accuracy FROM rounds WHERE round = 39");
  MESSAGE("central test accuracy on test.csv " << test_accuracy);
  CHECK(test_accuracy >= 0.9);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds WHERE test_accuracy IS NOT NULL") == 2);
}

}  // namespace signfed::test
