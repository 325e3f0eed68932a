// signfed-relay: one aggregation node between edge clients and the
// coordinator (or another relay); see --help and docs/relay.md.
#include <atomic>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "net/stop_signal.h"
#include "relay/relay.h"

int main(int argc, char** argv) {
  signfed::relay::RelayConfig cfg;
  bool insecure = false;
  CLI::App app{
      "signfed-relay: an aggregator between edge clients and the coordinator. To its children it is a coordinator "
      "(same protocol, CURVE and allowlist); to its parent (signfed-coordinator or another signfed-relay) it is one "
      "participant that sends one partial tally per round instead of its children's packets. The result is bit for bit "
      "the flat run's. Not for --aggregate median|trimmed, --guarded-step or --input-stats federated. See docs/relay.md."};
  app.add_option("--parent", cfg.parent, "the parent's endpoint (coordinator or upper relay)")->required();
  app.add_option("--bind", cfg.bind, "where children connect")->capture_default_str();
  app.add_option("--name", cfg.name, "this relay's client name at its parent")->capture_default_str();
  app.add_option("--clients", cfg.clients,
                 "leaf clients this relay speaks for (through lower relays too); the first round waits for them")
      ->required()
      ->check(CLI::Range(1u, 1u << 24));
  app.add_option("--deadline-fraction", cfg.deadline_fraction,
                 "close collection at this share of the parent's round deadline (the straggler policy at this tier)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.99));
  app.add_option("--max-clients", cfg.max_clients, "distinct children names")->capture_default_str();
  app.add_option("--key", cfg.curve_key_file, "this relay's CURVE secret key (signfed-keygen); serves both sides");
  app.add_option("--parent-key", cfg.parent_key_file, "the parent's CURVE public key (.pub)");
  app.add_option("--allow", cfg.allowlist_file, "allowlist of the children's public keys");
  app.add_flag("--insecure", insecure, "plaintext on both sides (trusted networks and tests only)");
  app.add_option("--db", cfg.db,
                 "log this relay's rounds and one row per leaf client here (a SQLite file or postgresql:// URL, the "
                 "coordinator's schema) and send only the leaves' totals up: the parent's CPU and log then grow with "
                 "its relays, not its boards (large fleets). Without it every leaf's row goes up to the parent's log");
  app.add_flag("--quiet", cfg.quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);
  cfg.insecure = insecure;
  if (!insecure && (cfg.curve_key_file.empty() || cfg.parent_key_file.empty() || cfg.allowlist_file.empty())) {
    fmt::print(stderr, "signfed-relay: CURVE needs --key, --parent-key and --allow (or --insecure on a trusted network)\n");
    return 2;
  }
  try {
    const std::atomic<bool>& stop = signfed::net::install_stop_signals();
    zmq::context_t ctx;
    signfed::relay::Relay relay(cfg, ctx, &stop);
    const int rc = relay.run();
    return rc == 130 && signfed::net::stop_signal() > 0 ? 128 + signfed::net::stop_signal() : rc;
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-relay: {}\n", e.what());
    return 1;
  }
}
