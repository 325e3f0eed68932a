// What the signfed-export suites share: a run database written the way the
// coordinator writes one (RoundLog, a config from CoordinatorConfig, a briefly
// trained model's checkpoints), signfed's own logits on Fashion-MNIST test
// samples, and running the tool and tests/export/export_check.py.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace signfed::model {
class Model;
}

namespace signfed::test {

struct ExportRun {
  std::string db;               // the SQLite file
  std::int64_t run_id = 0;
  std::vector<float> x;         // raw test rows (pixels in [0, 1]), n x input_size
  std::vector<float> logits;    // signfed's logits on them after the last round, n x classes
  std::size_t n = 0, features = 0, classes = 0;
  std::vector<std::uint64_t> digests;  // the model digest after each round
};

// Writes run `model` into db: rounds 0, 1, 2, each one step (0.05) along the mean
// gradient of 10 Fashion-MNIST minibatches, applied as a logged float32
// result (the vote log); checkpoints of rounds 0 (kept) and 2, none of round 1
// (export replays round 1's result onto round 0's checkpoint). standardise: the run's inputs are
// (x - 0.2860) / 0.3530, or with per_feature one mean/std per pixel from the
// training rows' moments, stored as --input-stats federated stores them.
// logits: of n test samples after round 2.
ExportRun write_run(const std::string& db, const std::string& model, bool standardise, std::size_t n,
                    bool per_feature = false);

// signfed's own logits (Model's protected forward pass) on n rows of x: n x classes.
std::vector<float> model_logits(model::Model& m, std::span<const float> x, std::size_t n);

// Runs signfed-export with args; output (stdout + stderr) into *output. Returns the exit code.
int run_export(const std::vector<std::string>& args, std::string* output, const std::string& log);

// Runs export_check.py MODE model against run's rows and logits; returns its
// exit code, output in *output; *max_diff from its "max abs diff D" (or -1).
int run_check(const std::string& mode, const std::string& model, const ExportRun& run, const std::string& work,
              std::string* output, double* max_diff);

// Runs export_check.py both: OpenCV on onnx against numpy on npz, over the n
// rows of x (features each); returns as run_check.
int run_pair_check(const std::string& onnx, const std::string& npz, const std::vector<float>& x, std::size_t n,
                   std::size_t features, std::size_t classes, const std::string& work, std::string* output,
                   double* max_diff);

}  // namespace signfed::test
