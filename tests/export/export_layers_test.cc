// Every layer kind of spec.h the presets do not use (conv1d, pools with a
// stride other than their size, average pools, global_avg_pool, tanh,
// sigmoid, dropout), exported from specs built here with random parameters:
// OpenCV's dnn on the ONNX graph agrees with the numpy forward pass over the
// npz (tests/export/export_check.py, which follows spec.h's channels-last
// definitions) within 1e-4. Label: conformance.
#include <doctest/doctest.h>

#include <random>

#include "tests/e2e/process.h"
#include "tests/export/export_fixture.h"
#include "tools/export/export_model.h"

namespace signfed::test {
namespace {

using exporter::ExportModel;
using model::LayerKind;

void check_spec(const char* what, model::ModelSpec spec) {
  ExportModel m;
  m.spec = std::move(spec);
  m.plan = exporter::make_plan(m.spec);
  m.input = {{0.3f}, {0.4f}};
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f), pixel(0.0f, 1.0f);
  m.params.resize(m.plan.num_params);
  for (float& p : m.params) p = u(rng);
  const std::size_t n = 64, f = m.plan.input_size(), k = m.plan.outputs();
  std::vector<float> x(n * f);
  for (float& v : x) v = pixel(rng);

  TempDir dir;
  const std::string onnx = dir.path + "/m.onnx", npz = dir.path + "/m.npz";
  exporter::write_onnx(m, onnx);
  exporter::write_npz(m, npz);
  std::string out;
  double diff = -1;
  const int rc = run_pair_check(onnx, npz, x, n, f, k, dir.path, &out, &diff);
  INFO(out);
  REQUIRE(rc == 0);
  MESSAGE(std::string(what), ": OpenCV vs numpy, max abs diff ", diff);
  CHECK(diff >= 0.0);
  CHECK(diff <= 1e-4);
}

TEST_CASE("export onnx: 1-d layers (conv1d, max and average pools, tanh, sigmoid, dropout) as 2-d ones with H = 1") {
  model::ModelSpec s;
  s.input = {32, 3};
  s.layers = {{.kind = LayerKind::conv1d, .filters = 4, .kernel = 3, .padding = 1},
              {.kind = LayerKind::tanh},
              {.kind = LayerKind::max_pool1d, .stride = 0, .size = 2},
              {.kind = LayerKind::conv1d, .filters = 5, .kernel = 3, .stride = 2},
              {.kind = LayerKind::sigmoid},
              {.kind = LayerKind::avg_pool1d, .stride = 1, .size = 3},
              {.kind = LayerKind::flatten},
              {.kind = LayerKind::dropout, .rate = 0.5},
              {.kind = LayerKind::dense, .units = 3}};
  check_spec("1-d", s);
}

TEST_CASE("export onnx: conv1d into global_avg_pool") {
  model::ModelSpec s;
  s.input = {20, 2};
  s.layers = {{.kind = LayerKind::conv1d, .filters = 6, .kernel = 5},
              {.kind = LayerKind::relu},
              {.kind = LayerKind::global_avg_pool},
              {.kind = LayerKind::dense, .units = 2}};
  check_spec("1-d global pool", s);
}

TEST_CASE("export onnx: 2-d strided conv, overlapping max pool, average pool, global_avg_pool, multi-channel input") {
  model::ModelSpec s;
  s.input = {13, 11, 2};
  s.layers = {{.kind = LayerKind::conv2d, .filters = 3, .kernel = 3, .stride = 2, .padding = 1},
              {.kind = LayerKind::relu},
              {.kind = LayerKind::max_pool2d, .stride = 1, .size = 2},
              {.kind = LayerKind::conv2d, .filters = 4, .kernel = 2},
              {.kind = LayerKind::tanh},
              {.kind = LayerKind::avg_pool2d, .size = 2},
              {.kind = LayerKind::flatten},
              {.kind = LayerKind::dense, .units = 5},
              {.kind = LayerKind::sigmoid}};
  check_spec("2-d", s);
  s.layers = {{.kind = LayerKind::conv2d, .filters = 3, .kernel = 3},
              {.kind = LayerKind::global_avg_pool},
              {.kind = LayerKind::dense, .units = 4}};
  check_spec("2-d global pool", s);
}

}  // namespace
}  // namespace signfed::test
