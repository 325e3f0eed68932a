// The command line of signfed-edge, as a library so that a test or simulator
// binary (tools/sim/faulty_edge.cc) runs the same program with extra flags.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "edge/edge_client.h"

namespace signfed::edge {

// Adds more options to the app, writing into the config (and its hooks) once
// the command line is parsed.
using ExtraFlags = std::function<void(CLI::App& app, EdgeConfig& cfg)>;

// Parses the production flags (and `extra`'s), installs SIGINT/SIGTERM
// handlers, runs an EdgeClient and returns the process exit code: 0 after the
// coordinator's Bye, 130 when stopped by SIGINT and 143 by SIGTERM (systemd's
// stop: the unit lists SuccessExitStatus=143), 1 on a fatal error, 2 for
// bad flags. Messages go to stderr, prefixed with `program`.
int edge_main(int argc, char** argv, const char* program, const ExtraFlags& extra = {});

}  // namespace signfed::edge
