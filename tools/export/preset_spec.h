// The ModelSpec of today's built-in models, by the names runs.config stores
// ("mlp", "mlp:A-B-..-Z", "cnn", "cnn:lenet5").
//
// STOPGAP: the model library will provide its own preset_spec() (issue 12);
// this file then goes, and export_input.cc calls the library's instead. Keep
// every preset-to-spec mapping of signfed-export here and nowhere else.
//
// The specs match core/model/mlp.h and cnn.h layer for layer and parameter
// for parameter (dense and conv2d layouts of spec.h):
//   mlp:A-..-Z  input [A]; dense(B) relu ... dense(Z)
//   cnn         input [28, 28, 1]; conv2d(6, k5, pad 2) relu max_pool2d(2)
//               conv2d(16, k5) relu max_pool2d(2) flatten dense(120) relu
//               dense(84) relu dense(10)
// Loss: softmax_cross_entropy for both.
#pragma once

#include <string_view>

#include "core/model/spec.h"

namespace signfed::exporter {

// Throws std::invalid_argument naming the model and the presets known.
model::ModelSpec preset_spec(std::string_view model);

}  // namespace signfed::exporter
