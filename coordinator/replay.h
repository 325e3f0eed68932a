// Resume by replay: the rounds logged after the last checkpoint, applied to
// the replica through the same code every edge runs on a VoteResult
// (core::Replica::apply with the packet, step and momentum), in round order.
//
// After every replayed round the replica's digest must equal the one logged
// for it; anything else (a damaged or tampered packet, a missing round, a
// digest that differs) throws ReplayError naming the round and the file, and
// the replica is left mid-way (the caller stops). Pure: no SQLite, no I/O.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "coordinator/round_log.h"
#include "core/codec/packet.h"
#include "core/replica/replica.h"

namespace signfed::coord {

class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The PacketView of a logged result packet (a FlatBuffers buffer whose root is
// a SignPacket), verified as a buffer; it aliases `bytes`. Throws ReplayError.
codec::PacketView logged_packet_view(const std::vector<std::uint8_t>& bytes, std::uint32_t round);

// Replays results (rounds after_round+1 .. last_round, each exactly once, in
// order) onto replica. db names the log in messages. Returns the rounds replayed.
std::size_t replay_results(core::Replica& replica, std::int64_t after_round, std::int64_t last_round,
                           const std::vector<ResultRow>& results, const std::string& db);

}  // namespace signfed::coord
