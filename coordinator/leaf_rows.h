// A relay's leaf clients in a log: the row a relay sends up per leaf
// (ChildReport, wire::ChildRow), the totals it sends instead when it keeps the
// rows in its own log (LeafTotals, wire::LeafTotals: signfed-relay --db), and
// what the coordinator's or the relay's log makes of them. Used by both sides
// of a relay (coordinator/messages.cc, relay/relay.cc). Not thread-safe (the
// registry and the log are the round thread's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "coordinator/client_registry.h"
#include "coordinator/round_log.h"
#include "schema/wire.h"

namespace signfed::coord {

// One leaf client's row for the log (wire::ChildRow), passed up the tree.
struct ChildReport {
  std::string name, platform, arch, detail;  // printable, bounded (platform/arch 64, detail 200 characters)
  std::uint64_t join_samples = 0;            // <= 2^40
  wire::ChildStatus status = wire::ChildStatus::counted;
  std::uint32_t round = 0, bytes = 0, payload_bytes = 0, samples = 0;
  float latency_ms = 0.0f, local_loss = 0.0f;  // finite (non-finite arrive as 0)
  float agreement = -1.0f;                     // in [0, 1], or -1: none
  std::uint32_t agreement_round = 0;
};

// Leaves whose rows a relay keeps in its own log (signfed-relay --db):
// what the parent's round row needs of them (wire::LeafTotals).
struct LeafTotals {
  std::uint32_t counted = 0, late = 0, rejected = 0, skipped = 0;
  std::uint64_t counted_samples = 0;  // the counted leaves' minibatch samples
  double loss_sum = 0.0;              // the counted leaves' local losses

  void add(const ChildReport& r);     // one row's share
  LeafTotals& operator+=(const LeafTotals& o);
  std::uint64_t rows() const { return std::uint64_t{counted} + late + rejected + skipped; }
  wire::LeafTotals to_wire() const;
};

// A leaf's row as the log stores it (client_id left 0: the caller's registry
// knows it). `round`: the round being closed (a late row keeps its own, earlier one).
UpdateRow leaf_row(const ChildReport& r, std::uint32_t round);

// The leaf's id in `registry` (a name first seen behind a relay is
// registered), its client row refreshed from the report unless it is
// connected directly, and upserted into the log only when new or changed
// (one write per leaf that moves, not one per round). nullopt: the registry is full.
std::optional<std::uint32_t> register_leaf(ClientRegistry& registry, const ChildReport& r, const std::string& via_relay,
                                           RoundLog& log, std::int64_t run_id, double now);

}  // namespace signfed::coord
