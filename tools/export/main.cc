// signfed-export: writes a trained model from a coordinator's round log as
// ONNX or npz; see --help and docs/export.md.
#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "tools/export/export_model.h"
#include "core/model/model.h"
#include "tools/export/run_source.h"

namespace {

using namespace signfed::exporter;

ExportModel assemble(RunSource src) {
  ExportModel m;
  try {
    m.spec = signfed::model::make_model(src.model, 0)->architecture();  // presets and model files alike
    m.plan = make_plan(m.spec);
  } catch (const std::invalid_argument& e) {
    throw ExportError(fmt::format("{} run {}: {}", src.path, src.run_id, e.what()));
  }
  if (src.params.size() != m.plan.num_params)
    throw ExportError(fmt::format("{} run {} round {}: {} stored parameters, but model '{}' has {}: the run's config and "
                                  "checkpoint disagree", src.path, src.run_id, src.round, src.params.size(), src.model,
                                  m.plan.num_params));
  const std::size_t n = src.input.mean.size();
  if (n != 0 && n != 1 && n != m.plan.input_size())
    throw ExportError(fmt::format("{} run {}: {} standardisation values for {} input features", src.path, src.run_id, n,
                                  m.plan.input_size()));
  m.input = std::move(src.input);
  m.params = std::move(src.params);
  m.metadata = {{"signfed.database", src.path},
                {"signfed.run", std::to_string(src.run_id)},
                {"signfed.round", std::to_string(src.round)},
                {"signfed.model", src.model},
                {"signfed.seed", std::to_string(src.seed)},
                {"signfed.digest", fmt::format("{:016x}", src.digest)}};
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db, out, format;
  std::optional<std::int64_t> run, round;
  CLI::App app{
      "signfed-export: writes a trained model from a coordinator's SQLite round log (the --db file of\n"
      "signfed-coordinator or signfed-sim) for inference elsewhere.\n"
      "  onnx: input 'input' float [N, input_size] (flat rows, as signfed feeds them), output 'logits' [N, K];\n"
      "        the run's input standardisation is part of the graph (feed raw features in [0, 1]).\n"
      "  npz:  one float32 array per tensor in signfed's layout (dense_0.weight, conv2d_0.bias, ...), input_mean,\n"
      "        input_std and the architecture as JSON, for numpy.load.\n"
      "The stored parameters, and every replayed round, are checked against their logged digest before anything is written.\n"
      "Layouts: docs/export.md. Example: signfed-export run.sqlite -o model.onnx"};
  app.add_option("database", db, "the run's SQLite round log")->required();
  app.add_option("--run", run, "run_id to export (default: the latest run in the file)");
  app.add_option("--round", round,
                 "export the model after this round (default: the latest logged round): the nearest checkpoint at or "
                 "before it, with the vote log's results replayed onto it");
  app.add_option("-o,--output", out, "file to write (replaced if it exists)")->required();
  app.add_option("--format", format, "onnx or npz (default: npz if the output ends in .npz, else onnx)");
  CLI11_PARSE(app, argc, argv);
  if (format.empty()) format = out.ends_with(".npz") ? "npz" : "onnx";
  if (format != "onnx" && format != "npz") {
    fmt::print(stderr, "signfed-export: unknown --format '{}': expected onnx or npz\n", format);
    return 2;
  }
  try {
    RunSource src = read_run(db, run, round);
    const std::string what = fmt::format("run {} round {}, model {}, {} parameters, digest {:016x}", src.run_id,
                                         src.round, src.model, src.params.size(), src.digest);
    const ExportModel m = assemble(std::move(src));
    if (format == "onnx") write_onnx(m, out);
    else write_npz(m, out);
    const std::string input =
        !m.input.enabled()          ? std::string("inputs used as they are")
        : m.input.mean.size() == 1 ? fmt::format("inputs standardised as (x - {}) / {}", m.input.mean[0], m.input.std[0])
                                    : fmt::format("inputs standardised per feature ({} means and standard deviations)",
                                                  m.input.mean.size());
    fmt::print("wrote {} ({}): {}; {}\n", out, format, what, input);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-export: {}\n", e.what());
    return 1;
  }
}
