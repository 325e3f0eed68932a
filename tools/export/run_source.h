// What signfed-export reads from a coordinator's round log (the SQLite file
// of signfed-coordinator --db or signfed-sim; schema: coordinator/round_log.cc):
// runs.config (JSON: "model", "seed", "standardise", "input_mean",
// "input_std", and "input_mean_per_feature"/"input_std_per_feature" when the
// run used --input-stats federated) and one row of checkpoints (params: little-endian float32 BLOB,
// digest: FNV-1a hex, codec::model_digest).
//
// The model after any logged round R: the nearest checkpoint at or before R
// (checkpoints: every --checkpoint-every-th round, the run's first commit and
// last round), then the vote log's results (table results) up to R replayed
// onto it with core/replica/replay.h, each round's digest checked. Logs
// written before the vote log have only the checkpointed rounds.
//
// Opens the file read-only (never creates or changes it). Errors throw
// ExportError with a message naming the file and saying what to do.
// Not thread-safe (one call, one connection).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace signfed::exporter {

class ExportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// x' = (x - mean[i]) / std[i], i over the input features. One value each for
// a scalar applied to every feature (core/data/standardise.h); a vector of
// input_size values is the per-feature form (--input-stats federated).
// Disabled: empty vectors.
struct InputTransform {
  std::vector<float> mean, std;
  bool enabled() const { return !mean.empty(); }
};

struct RunSource {
  std::string path;
  std::int64_t run_id = 0;
  std::int64_t round = 0;     // the model state after this round
  std::string model;          // runs.config "model", e.g. "cnn" or "mlp:784-128-10"
  std::uint64_t seed = 0;
  InputTransform input;
  std::vector<float> params;  // verified against the logged digest
  std::uint64_t digest = 0;
};

// run: nullopt = the latest run (highest run_id). round: nullopt = the latest
// logged round of that run. Throws ExportError when the file
// is missing or not a signfed round log, the run or round does not exist or
// has no stored parameters (the message lists those that do), the config
// lacks a field, or the parameters do not match their digest.
RunSource read_run(const std::string& path, std::optional<std::int64_t> run, std::optional<std::int64_t> round);

}  // namespace signfed::exporter
