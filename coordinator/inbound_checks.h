// The checks of an inbound update that do not depend on who holds the round:
// shared by the coordinator (messages.cc) and signfed-relay (relay/relay.cc),
// which verify their children's frames alike. Pure: no I/O, no state.
//
//   check_join          a Join: version, name, model, samples
//   check_packet        an Update's packet: the method's encoding, codec::validate at dim
//   verify_tally_update a relay's TallyUpdate: decode_tally at dim, the method's kind,
//                       at most relay_clients updates folded, at most
//                       4 * relay_clients + 16 rows with valid names and
//                       statuses, counted rows naming distinct clients,
//                       exactly as many as the tally folds (FORMAT.md "Relays")
//
// A refusal carries the Error code to answer with and a one-line reason.
// Sender, round and duplicate checks stay with the caller (they need its
// registry and round state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/codec/packet.h"
#include "core/methods/strategy.h"
#include "core/methods/tally.h"
#include "schema/wire.h"

namespace signfed::coord {

struct Refusal {
  wire::ErrorCode code = wire::ErrorCode::bad_message;
  std::string why;
};

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

// A Join's checks before admission (both sides of a relay): the protocol
// version, a valid name, the model (an empty spec: the client builds the one
// Welcome names), samples at most 2^40. `who` names the receiver in the reply.
std::optional<Refusal> check_join(const wire::Join& m, const std::string& who, const std::string& spec,
                                  std::uint64_t num_params);

// nullopt: the packet may be counted.
// decoded (optional): a sparse_sign packet is decoded into it by the same walk
// that validates it, for the vote (codec::SignPacket::sparse).
std::optional<Refusal> check_packet(const codec::PacketView& v, const methods::Strategy& strategy, std::uint32_t dim,
                                    codec::SparseSigns* decoded = nullptr);

struct VerifiedTally {
  methods::Tally tally;
  std::vector<ChildReport> rows;
};
std::variant<VerifiedTally, Refusal> verify_tally_update(const wire::TallyUpdate& m, const methods::Strategy& strategy,
                                                         std::uint32_t dim, std::uint32_t relay_clients);

// The rows' wire form (for a relay's own TallyUpdate).
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::ChildRow>>> build_child_rows(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<ChildReport>& rows);

}  // namespace signfed::coord
