// A trained model ready to be written: its architecture (the spec and the
// plan walked from it), the input transform folded in, the flat parameters in
// signfed's layout, and where it came from (written into the file as
// metadata). What the ONNX and npz writers take.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/model/spec.h"
#include "tools/export/layer_plan.h"
#include "tools/export/run_source.h"

namespace signfed::exporter {

struct ExportModel {
  model::ModelSpec spec;
  LayerPlan plan;                                             // make_plan(spec)
  InputTransform input;                                       // mean/std size 1 or plan.input_size()
  std::vector<float> params;                                  // plan.num_params floats
  std::vector<std::pair<std::string, std::string>> metadata;  // provenance, e.g. {"signfed.run", "3"}
};

// Writes `path`, replacing it. Throws ExportError naming the file and the
// reason (directory missing, not writable, disk full).
void write_onnx(const ExportModel& m, const std::string& path);
void write_npz(const ExportModel& m, const std::string& path);

}  // namespace signfed::exporter
