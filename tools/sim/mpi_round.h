// What the ranks of signfed-sim --mpi exchange in a round besides the tally
// (tools/sim/mpi_sim.h): plain, trivially copyable records sent as bytes
// between processes of the same binary (same layout on every rank).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

namespace signfed::sim {

// What the log's update row needs of one counted update (gathered on rank 0).
struct UpdateRecord {
  std::uint32_t client = 0;
  std::uint32_t samples = 0;       // Update.samples: batch * local steps
  std::uint64_t bytes = 0;         // the Update envelope an EdgeClient would send
  std::uint64_t payload_bytes = 0;
  double latency_ms = 0.0;         // local work (compute and encode)
  double loss = 0.0;
  double agreement = std::numeric_limits<double>::quiet_NaN();  // vote methods; NaN: none
};
static_assert(std::is_trivially_copyable_v<UpdateRecord>);

// What rank 0 broadcasts after aggregating (then the result packet's bytes,
// a finished FlatBuffers wire::SignPacket).
struct ResultHeader {
  std::uint64_t packet_bytes = 0;
  std::uint64_t new_digest = 0;    // the coordinator's replica after the result
  std::uint32_t voters = 0;        // counted updates (VoteResult.voters)
  float momentum = 0.0f;           // VoteResult.momentum
};
static_assert(std::is_trivially_copyable_v<ResultHeader>);

}  // namespace signfed::sim
