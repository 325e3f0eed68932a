// The run configuration's command-line face, defined once for both CLIs
// (signfed-coordinator and signfed-sim): the training and straggler options,
// their parsing (enum names from the FlatBuffers schema) and validation, and
// the JSON form that --config reads and --print-config writes (the same form
// runs.config stores; config.h to_json / apply_stored_config).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "coordinator/config.h"

namespace signfed::coord {

// The options given as text, parsed by apply_training_options().
struct TrainingText {
  std::string method = "signsgd", gamma = "1.0", tie = "zero", schedule = "constant", policy = "deadline",
              init = "he", weighting = "samples", aggregate = "mean", input_stats = "dataset";
  bool no_standardise = false;
  bool no_test = false;
};

// The text forms of cfg (after a --config file: flags given later override them).
TrainingText training_text_of(const CoordinatorConfig& cfg);

// --method --gamma --eta --momentum --tie --lr --server-lr --weighting
// --aggregate --clip --no-standardise --input-stats --schedule --halve-every --batch --local-steps --model
// --init --eval-every --test-limit --no-test --guarded-step in `training_group`;
// --policy --round-timeout --virtual-time in `straggler_group`.
void add_training_options(CLI::App& app, CoordinatorConfig& cfg, TrainingText& text, const std::string& training_group,
                          const std::string& straggler_group);

using FlagGiven = std::function<bool(std::string_view)>;
// Parses `text` into cfg and checks the flags: a method-specific flag the
// method does not use (method_flag_given) and a flag that needs another
// setting (given) are errors. Returns "" or a message saying what to change.
std::string apply_training_options(const TrainingText& text, const FlagGiven& method_flag_given, const FlagGiven& given,
                                   CoordinatorConfig& cfg);

// Reads a run configuration file (JSON, as --print-config writes it) into cfg:
// the keys it names (a file may name only some; an unknown key is an error);
// deployment fields (endpoint, db, keys) are not in it. Throws
// std::runtime_error naming the file and what is wrong.
void load_config_file(const std::string& path, CoordinatorConfig& cfg);

}  // namespace signfed::coord
