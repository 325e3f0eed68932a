// When a round's commit carries a full checkpoint (the vote log holds every
// round between them: --resume and signfed-export --round replay from the
// last one): every `every` rounds (0: never on a schedule), at the run's
// last round, and at the run's first commit. Shared by signfed-coordinator
// and the MPI simulator's rank 0.
#pragma once

#include <cstdint>
#include <optional>

#include "coordinator/round_log.h"
#include "core/replica/replica.h"

namespace signfed::coord {

// The checkpoint of `replica` (its parameters and momentum, with `digest`)
// after `round` if one is due, else nullopt.
inline std::optional<Checkpoint> checkpoint_if_due(const core::Replica& replica, std::uint64_t digest,
                                                   std::uint32_t round, bool last, bool checkpointed_before,
                                                   std::uint32_t every) {
  if (!(last || !checkpointed_before || (every > 0 && (round + 1) % every == 0))) return std::nullopt;
  Checkpoint ck;
  ck.round = round;
  ck.digest = digest;
  ck.params.assign(replica.params().begin(), replica.params().end());
  ck.momentum.assign(replica.momentum().begin(), replica.momentum().end());
  return ck;
}

}  // namespace signfed::coord
