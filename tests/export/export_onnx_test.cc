// signfed-export's ONNX graphs run by an independent engine, OpenCV's dnn
// (Debian python3-opencv), give the logits signfed computes itself, on 300
// Fashion-MNIST test samples, within 1e-4. Label: conformance.
#include <doctest/doctest.h>

#include "tests/e2e/process.h"
#include "tests/export/export_fixture.h"

namespace signfed::test {
namespace {

void check_onnx(const std::string& model, bool standardise, bool per_feature = false) {
  TempDir dir;
  const ExportRun run = write_run(dir.path + "/run.sqlite", model, standardise, 300, per_feature);
  const std::string onnx = dir.path + "/model.onnx";
  std::string out;
  REQUIRE_MESSAGE(run_export({run.db, "-o", onnx}, &out, dir.path + "/export.log") == 0, out);
  double diff = -1;
  const int rc = run_check("onnx", onnx, run, dir.path, &out, &diff);
  INFO(out);
  REQUIRE(rc == 0);
  const std::string what =
      model + (!standardise ? " (raw inputs)" : per_feature ? " (standardised per feature)" : " (standardised)");
  MESSAGE(what, ": OpenCV vs signfed logits, max abs diff ", diff);
  CHECK(diff >= 0.0);
  CHECK(diff <= 1e-4);
}

TEST_CASE("export onnx: the mlp's graph in OpenCV gives signfed's logits, standardisation folded in") {
  check_onnx("mlp", true);
}

TEST_CASE("export onnx: the cnn's graph (NCHW transposes, permuted conv weights) in OpenCV gives signfed's logits") {
  check_onnx("cnn", true);
}

TEST_CASE("export onnx: a run with federated per-feature statistics folds all 784 means and stds into the graph") {
  check_onnx("mlp", true, /*per_feature=*/true);
}

TEST_CASE("export onnx: a deeper mlp without standardisation in OpenCV gives signfed's logits") {
  check_onnx("mlp:784-64-32-10", false);
}

}  // namespace
}  // namespace signfed::test
