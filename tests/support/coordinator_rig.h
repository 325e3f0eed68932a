// A coordinator driven in-process for handler-level tests: a real Coordinator
// and its real SQLite log in a fresh temp dir, over net::MemoryTransport and
// net::ManualClock, fed frames through the handle_frame seam (no sockets, no
// sleeping). Suites derive from it to add their own clients and helpers.
// Not thread-safe; one per test case.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/config.h"
#include "coordinator/coordinator.h"
#include "net/memory_transport.h"
#include "schema/wire.h"
#include "tests/e2e/process.h"

namespace signfed::test {

struct CoordinatorRig {
  TempDir dir;
  std::string db = dir.path + "/run.sqlite";
  net::ManualClock* clock = nullptr;
  net::MemoryTransport* transport = nullptr;
  std::unique_ptr<coord::Coordinator> c;

  // Opens a coordinator on cfg with these CURVE keys allowed (none: any key
  // and plaintext peers are accepted). cfg.db_path is this rig's file unless
  // reuse_db names another (a resume of an earlier rig's log); quiet is set.
  explicit CoordinatorRig(coord::CoordinatorConfig cfg, std::initializer_list<const char*> keys = {},
                          const std::string& reuse_db = {});

  // One frame from peer, authenticated as key (empty: plaintext).
  void from(const std::string& peer, const std::vector<std::uint8_t>& frame, const std::string& key = {});
  // A number from the log (tests/support/sql_query.h).
  double q(const std::string& sql) const;
  // Every frame sent to peer so far, verified as an Envelope (REQUIREd), in order.
  std::vector<const wire::Envelope*> received(const std::string& peer) const;
  // The Error codes sent to peer so far, in order.
  std::vector<wire::ErrorCode> errors(const std::string& peer) const;
};

}  // namespace signfed::test
