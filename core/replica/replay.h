// Replay of the vote log: the results of logged rounds (the packet every
// replica applied, with its step and momentum coefficient) applied again to a
// replica restored from a checkpoint, through the same Replica::apply every
// edge runs on a VoteResult, in round order. The coordinator's --resume uses
// it from its last checkpoint; signfed-export uses it to rebuild the model of
// any logged round from the nearest checkpoint before it.
//
// After every replayed round the replica's digest must equal the one logged
// for it; anything else (a damaged or tampered packet, a missing round, a
// digest that differs) throws ReplayError naming the round and the source,
// and the replica is left mid-way (the caller stops). Pure: no SQLite, no I/O.
// Not thread-safe with respect to the replica (it is written).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/replica/replica.h"

namespace signfed::core {

// One round's result as every replica applied it (the round log's `results`
// table): the VoteResult's SignPacket serialised on its own (a FlatBuffers
// buffer whose root is wire::SignPacket), the step and momentum coefficient it
// carried, whether the step stayed applied (false: a refused aggregate, a
// round without counted updates, a guarded step rolled back: the model is as
// before the round), and the model digest after the round.
struct LoggedResult {
  std::uint32_t round = 0;
  std::vector<std::uint8_t> packet;
  float step = 0.0f;
  float momentum = 0.0f;
  bool applied = false;
  std::uint64_t digest = 0;
};

class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The PacketView of a logged result packet, verified as a FlatBuffers buffer;
// it aliases `bytes`. Throws ReplayError naming the round.
codec::PacketView logged_packet_view(const std::vector<std::uint8_t>& bytes, std::uint32_t round);

// Replays results (rounds after_round+1 .. last_round, each exactly once, in
// order) onto replica; results after last_round are ignored. `source` names
// the log in messages ("run.sqlite run 3"). Returns the rounds replayed.
std::size_t replay_results(Replica& replica, std::int64_t after_round, std::int64_t last_round,
                           std::span<const LoggedResult> results, const std::string& source);

}  // namespace signfed::core
