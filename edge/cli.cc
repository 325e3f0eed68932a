#include "edge/cli.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/core.h>

#include "core/model/model.h"
#include "net/stop_signal.h"

namespace signfed::edge {
namespace {

// --data is a board's own file or a directory to partition; the flags of the
// other mode are refused rather than ignored.
std::string apply_data_path(const std::string& path, const CLI::App& app, EdgeConfig& cfg) {
  const auto given = [&](const char* flag) { return app.count(flag) > 0; };
  const bool file = !path.empty() && std::filesystem::is_regular_file(path);
  if (!path.empty() && !file && !std::filesystem::is_directory(path))
    return "--data " + path + ": no such file or directory";
  if (file) {
    for (const char* f : {"--partition", "--num-clients"})
      if (given(f))
        return std::string(f) + " splits a shared dataset between clients; --data FILE is this board's own data: drop " +
               f;
    cfg.local_data.path = path;
    return {};
  }
  for (const char* f : {"--labels", "--label", "--no-header", "--skip-lines"})
    if (given(f)) return std::string(f) + " describes a --data FILE; give --data the board's data file";
  cfg.data_dir = path;
  return {};
}

}  // namespace

int edge_main(int argc, char** argv, const char* program, const ExtraFlags& extra) {
  EdgeConfig cfg;
  bool no_header = false;
  CLI::App app{std::string(program) +
               ": trains on local data and sends sign-compressed updates to a signfed-coordinator.\n"
               "Example: signfed-edge --connect tcp://laptop:5555 --client-index 3 --num-clients 10 --partition class1"};
  app.option_defaults()->always_capture_default();
  app.add_option("--connect", cfg.endpoint,
                 "coordinator (or signfed-relay) endpoint, or an ordered list A,B,...: after --rejoin-after of "
                 "silence the client fails over to the next (docs/relay.md)");
  app.add_option("--name", cfg.name, "stable client name (default edge-<client-index>)");
  app.add_option("--model", cfg.model,
                 "model spec (must match the coordinator's); default: the model the coordinator names");
  std::string data_path;
  app.add_option("--data", data_path,
                 "this board's own data FILE (CSV, .csv.gz, .npz, .npy with --labels, IDX with --labels: trained on "
                 "alone, no partition), or a DIRECTORY with IDX train files to take a --partition share of "
                 "(default: Debian's Fashion-MNIST, package dataset-fashion-mnist)");
  app.add_option("--labels", cfg.local_data.labels_path, "labels file for --data FILE.npy or an IDX images file");
  app.add_option("--label", cfg.local_data.csv.label,
                 "CSV label column: a name, or #N by position from 0 (#-1: the last); default: the column named "
                 "label, target or class");
  app.add_flag("--no-header", no_header, "the CSV file has no header row (name the label column as #N)");
  app.add_option("--skip-lines", cfg.local_data.csv.skip_lines, "CSV lines to skip before the header or data");
  app.add_option("--partition", cfg.partition, "iid | class1 | halves | shards:C | dirichlet:ALPHA | quantity:SIGMA");
  app.add_option("--client-index", cfg.client_index, "this client's index in the partition");
  app.add_option("--num-clients", cfg.num_clients, "number of shards the data is split into")->check(CLI::Range(1u, 100000u));
  app.add_option("--data-seed", cfg.data_seed, "seed of the partition and minibatch sampling");
  app.add_option("--holdout", cfg.holdout,
                 "share of the local samples held out from training (seeded by --data-seed and --client-index) and "
                 "scored on the rounds the coordinator evaluates (its --eval-every); 0: none")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--state", cfg.state_path,
                 "file keeping the error-feedback memory across restarts (format: schema/FORMAT.md, Edge state file)");
  app.add_option("--heartbeat", cfg.heartbeat_ms, "heartbeat interval, ms");
  app.add_option("--rejoin-after", cfg.rejoin_after_ms, "rejoin after this much coordinator silence, ms");
  app.add_option("--give-up-after", cfg.give_up_after_ms, "exit after this much coordinator silence, ms");
  app.add_flag("--quiet", cfg.quiet, "no progress output");
  bool insecure = false;
  app.add_flag("--insecure", insecure, "PLAINTEXT transport: no authentication, no encryption (local demos and tests)");
  app.add_option("--key", cfg.curve_key_file,
                 "this client's CURVE secret key file (signfed-keygen NAME.key; NAME.pub goes into the coordinator's "
                 "allowlist)");
  app.add_option("--server-key", cfg.server_key_file, "the coordinator's CURVE public key file (COORD.pub); with a --connect list, one file per endpoint (A.pub,B.pub) "
                 "or one for all");
  if (extra) extra(app, cfg);
  CLI11_PARSE(app, argc, argv);
  cfg.insecure = insecure;
  cfg.local_data.csv.header = !no_header;
  try {
    if (!cfg.model.empty()) cfg.model = model::load_model_argument(cfg.model);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "{}: --model: {}\n", program, e.what());
    return 2;
  }
  if (const std::string err = apply_data_path(data_path, app, cfg); !err.empty()) {
    fmt::print(stderr, "{}: {}\n", program, err);
    return 2;
  }
  if (insecure && (!cfg.curve_key_file.empty() || !cfg.server_key_file.empty())) {
    fmt::print(stderr, "{}: --insecure cannot be combined with --key/--server-key\n", program);
    return 2;
  }
  if (!insecure && (cfg.curve_key_file.empty() || cfg.server_key_file.empty())) {
    fmt::print(stderr,
               "{}: pass --key CLIENT.key and --server-key COORD.pub (make keys with signfed-keygen), or "
               "--insecure for plaintext on a trusted network\n",
               program);
    return 2;
  }

  const std::atomic<bool>& stop = net::install_stop_signals();
  try {
    zmq::context_t ctx;
    EdgeClient client(cfg, ctx, nullptr, &stop);
    const int rc = client.run();
    if (const int sig = net::stop_signal(); sig != 0 && rc == 130) {
      fmt::print(stderr, "{}: stopped by {}\n", program, net::stop_signal_name());
      return 128 + sig;  // 130 SIGINT, 143 SIGTERM
    }
    return rc;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 1;
  }
}

}  // namespace signfed::edge
