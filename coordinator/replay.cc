#include "coordinator/replay.h"

#include <flatbuffers/flatbuffers.h>

#include "core/codec/wire_packet.h"
#include "schema/signfed_generated.h"

namespace signfed::coord {

codec::PacketView logged_packet_view(const std::vector<std::uint8_t>& bytes, std::uint32_t round) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (bytes.empty() || !v.VerifyBuffer<wire::SignPacket>(nullptr))
    throw ReplayError("round " + std::to_string(round) + ": the logged result packet is not a valid SignPacket");
  return codec::view_of(*flatbuffers::GetRoot<wire::SignPacket>(bytes.data()));
}

std::size_t replay_results(core::Replica& replica, std::int64_t after_round, std::int64_t last_round,
                           const std::vector<ResultRow>& results, const std::string& db) {
  const auto fail = [&](std::int64_t round, const std::string& why) -> ReplayError {
    return ReplayError("--resume: cannot replay round " + std::to_string(round) + " of " + db + ": " + why +
                       "; the round log is damaged (resume is refused rather than continuing from a wrong model)");
  };
  std::int64_t expect = after_round + 1;
  for (const ResultRow& r : results) {
    if (r.round > last_round) break;  // cannot happen (results commit with their round); never replayed
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
      throw fail(r.round, "the model digest after replaying it is " + digest_hex(got) + ", the log says " +
                              digest_hex(r.digest));
    ++expect;
  }
  if (expect <= last_round) throw fail(expect, "no result is logged for it");
  return static_cast<std::size_t>(expect - (after_round + 1));
}

}  // namespace signfed::coord
