// Federated input statistics end to end: two boards whose CSV features have
// wildly different scales (~1e3 and ~1e-3, off-centre) train a model file with
// --input-stats federated. The coordinator never sees a row, only each
// board's moments of its training rows (its hold-out cut away), and the run
// learns far better than the same run on raw inputs (--no-standardise).
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/rng.h"
#include "tests/e2e/federation.h"

namespace signfed::test {
namespace {

constexpr int kFeatures = 6;

// Feature f is scale_f * (3 + (+-1 by class and feature) + noise), scale_f
// alternating 1e3 and 1e-3: every feature carries the label, but raw inputs
// put it on scales no single step size suits.
void write_scaled_csv(const std::string& path, int n, double p1, std::uint64_t seed) {
  data::Rng rng(seed);
  std::ofstream out(path);
  for (int f = 0; f < kFeatures; ++f) out << "x" << f << ",";
  out << "label\n";
  for (int i = 0; i < n; ++i) {
    const int label = rng.uniform() < p1 ? 1 : 0;
    for (int f = 0; f < kFeatures; ++f) {
      const double noise = (rng.uniform() + rng.uniform() + rng.uniform() - 1.5) * 1.4;
      const double scale = f % 2 ? 1e-3 : 1e3;
      out << scale * (3.0 + (label ? 1.0 : -1.0) * (f % 3 ? 1.0 : -1.0) + noise) << ",";
    }
    out << label << "\n";
  }
}

struct Outcome {
  double last_loss = 0.0;
  std::string config;
  std::string stats_event;
  double train_samples = 0.0;
};

Outcome run_boards(const std::vector<std::string>& stats_flags) {
  Federation f;
  const std::string model = f.dir.path + "/model.json";
  std::ofstream(model) << R"({"input": [6], "layers": [{"type": "dense", "units": 16}, {"type": "relu"},
                              {"type": "dense", "units": 2}], "loss": "softmax_cross_entropy"})";
  write_scaled_csv(f.dir.path + "/a.csv", 240, 0.3, 11);
  write_scaled_csv(f.dir.path + "/b.csv", 240, 0.7, 12);
  std::vector<std::string> args = {"--model", model, "--rounds", "30", "--method", "signsgd", "--lr", "0.005",
                                   "--batch", "16", "--eval-every", "0", "--round-timeout", "20000"};
  args.insert(args.end(), stats_flags.begin(), stats_flags.end());
  f.start_coordinator(2, args);
  std::vector<std::unique_ptr<Process>> boards;
  for (const char* name : {"a", "b"})
    boards.push_back(std::make_unique<Process>(
        SIGNFED_EDGE_BIN,
        std::vector<std::string>{"--connect", f.endpoint, "--insecure", "--name", name, "--data",
                                 f.dir.path + "/" + name + ".csv", "--holdout", "0.25", "--rejoin-after", "1000"},
        f.dir.path + "/" + name + ".log"));
  f.require_coordinator_success(120);
  for (auto& p : boards) {
    INFO(p->output());
    CHECK(p->wait(60) == 0);
    CHECK(p->output().find("matches the coordinator") != std::string::npos);  // both end on the coordinator's digest
  }
  Outcome o;
  o.last_loss = query_number(f.db, "SELECT AVG(local_loss) FROM updates WHERE round >= 25 AND status='counted'");
  o.config = query_text(f.db, "SELECT config FROM runs");
  o.stats_event = query_text(f.db, "SELECT COALESCE(MAX(detail), '') FROM events WHERE kind='input_stats'");
  o.train_samples = query_number(f.db, "SELECT SUM(samples) FROM clients");
  return o;
}

}  // namespace

TEST_CASE("e2e: --input-stats federated standardises boards' own data per feature from their moments") {
  const Outcome fed = run_boards({"--input-stats", "federated"});
  const Outcome raw = run_boards({"--no-standardise"});
  MESSAGE("training loss after 25 rounds: federated statistics " << fed.last_loss << ", raw inputs " << raw.last_loss);
  // Raw inputs of ~3e3 swing the logits by thousands a step; standardised ones learn.
  CHECK(fed.last_loss < 0.35);
  CHECK(fed.last_loss < 0.5 * raw.last_loss);

  const nlohmann::json config = nlohmann::json::parse(fed.config);
  CHECK(config.at("input_stats") == "federated");
  const auto mean = config.at("input_mean_per_feature").get<std::vector<double>>();
  const auto sd = config.at("input_std_per_feature").get<std::vector<double>>();
  REQUIRE(mean.size() == kFeatures);
  REQUIRE(sd.size() == kFeatures);
  CHECK(mean[0] == doctest::Approx(3e3).epsilon(0.1));  // the features' own scales
  CHECK(mean[1] == doctest::Approx(3e-3).epsilon(0.1));
  CHECK(sd[0] > 100.0);
  CHECK(sd[1] < 1e-2);
  // Only the training rows: the 25% hold-out of each board is not in the moments.
  CHECK(fed.train_samples < 400);
  CHECK(fed.stats_event.find("from 2 clients, " + std::to_string(static_cast<int>(fed.train_samples)) + " rows") !=
        std::string::npos);
}

}  // namespace signfed::test
