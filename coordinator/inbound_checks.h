// The checks of an inbound update that do not depend on who holds the round:
// shared by the coordinator (messages.cc) and signfed-relay (relay/relay.cc),
// which verify their children's frames alike. Pure: no I/O, no state.
//
//   check_join          a Join: version, name, model, samples
//   check_admission     an update's sender and round: own id, open round, selected, once
//   admit_packet        an Update's packet: the method's encoding, codec::validate at
//                       dim; the packet copied out of its frame, a sparse one with
//                       the decoded form its validation produced (for the vote)
//   check_eval_values   an EvalReport's numbers: samples within the sender's
//                       bound (eval_samples_bound), a finite loss sum >= 0,
//                       correct <= samples
//   verify_tally_update a relay's TallyUpdate: decode_tally at dim, the method's kind,
//                       at most relay_clients updates folded, at most
//                       4 * relay_clients + 16 rows with valid names and
//                       statuses, counted rows naming distinct clients,
//                       exactly as many as the tally folds (FORMAT.md "Relays"),
//                       counting the leaves logged below (LeafTotals): each
//                       status at most relay_clients, a finite loss sum
//
// A refusal carries the Error code to answer with and a one-line reason.
// The sender's identity stays with the caller (its registry).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/codec/packet.h"
#include "core/methods/strategy.h"
#include "core/methods/tally.h"
#include "coordinator/leaf_rows.h"
#include "schema/wire.h"

namespace signfed::coord {

struct Refusal {
  wire::ErrorCode code = wire::ErrorCode::bad_message;
  std::string why;
  bool late = false;  // check_admission: for a round that has closed (logged `late`, not `rejected`)
};

class RoundState;

// Whether client `client_id`'s update (what: "update", "tally") for `round`,
// claiming to be from `claimed_id`, may enter the round: its own id, the open
// round (`open`: the open round's state, nullptr or closed when none is
// open; `next_round`: the round that opens next), selected (who: "client",
// "relay" in the reply), the first one this round.
std::optional<Refusal> check_admission(const RoundState* open, std::uint32_t next_round, std::uint32_t client_id,
                                       std::uint32_t claimed_id, std::uint32_t round, const std::string& what,
                                       const std::string& who);

// A Join's checks before admission (both sides of a relay): the protocol
// version, a valid name, the model (an empty spec: the client builds the one
// Welcome names), samples at most 2^40. `who` names the receiver in the reply.
std::optional<Refusal> check_join(const wire::Join& m, const std::string& who, const std::string& spec,
                                  std::uint64_t num_params);

// The packet, owned, if it may be counted: a sparse_sign packet is decoded by
// the walk that validates it and keeps that form (codec::SignPacket::sparse),
// so the vote does not walk it again.
std::variant<codec::SignPacket, Refusal> admit_packet(const codec::PacketView& v, const methods::Strategy& strategy,
                                                      std::uint32_t dim);

struct Client;

// The most hold-out samples a report from c may claim: a client's Join
// samples; a relay's (the sum over its subtree), relay_clients x (2^32 - 1).
std::uint64_t eval_samples_bound(const Client& c);
// nullopt: the numbers of the report may be counted.
std::optional<Refusal> check_eval_values(const wire::EvalReport& m, std::uint64_t max_samples);

struct VerifiedTally {
  methods::Tally tally;
  std::vector<ChildReport> rows;
  LeafTotals logged_below;  // leaves not in rows (TallyUpdate.logged_below)
};
std::variant<VerifiedTally, Refusal> verify_tally_update(const wire::TallyUpdate& m, const methods::Strategy& strategy,
                                                         std::uint32_t dim, std::uint32_t relay_clients);

// The rows' wire form (for a relay's own TallyUpdate).
flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::ChildRow>>> build_child_rows(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<ChildReport>& rows);

}  // namespace signfed::coord
