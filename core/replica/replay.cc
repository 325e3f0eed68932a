#include "core/replica/replay.h"

#include <flatbuffers/flatbuffers.h>
#include <fmt/format.h>

#include "core/codec/wire_packet.h"
#include "schema/signfed_generated.h"

namespace signfed::core {

codec::PacketView logged_packet_view(const std::vector<std::uint8_t>& bytes, std::uint32_t round) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (bytes.empty() || !v.VerifyBuffer<wire::SignPacket>(nullptr))
    throw ReplayError(fmt::format("round {}: the logged result packet is not a valid SignPacket", round));
  return codec::view_of(*flatbuffers::GetRoot<wire::SignPacket>(bytes.data()));
}

std::size_t replay_results(Replica& replica, std::int64_t after_round, std::int64_t last_round,
                           std::span<const LoggedResult> results, const std::string& source) {
  const auto fail = [&](std::int64_t round, const std::string& why) {
    return ReplayError(fmt::format("cannot replay round {} of {}: {}", round, source, why));
  };
  std::int64_t expect = after_round + 1;
  for (const LoggedResult& r : results) {
    if (r.round <= after_round) continue;
    if (r.round > last_round) break;
    if (r.round != expect) throw fail(expect, "no result is logged for it");
    if (r.applied) {
      try {
        replica.apply(logged_packet_view(r.packet, r.round), r.step, r.momentum);
      } catch (const ReplayError& e) {
        throw fail(r.round, e.what());
      } catch (const codec::CodecError& e) {
        throw fail(r.round, std::string("the logged result packet is malformed: ") + e.what());
      }
    }
    const std::uint64_t got = replica.digest();
    if (got != r.digest)
      throw fail(r.round, fmt::format("the model digest after replaying it is {:016x}, the log says {:016x}", got,
                                      r.digest));
    ++expect;
  }
  if (expect <= last_round) throw fail(expect, "no result is logged for it");
  return static_cast<std::size_t>(expect - (after_round + 1));
}

}  // namespace signfed::core
