// signfed-edge-faulty: signfed-edge plus fault injection, for the simulator's
// --processes mode and the e2e/security tests; not installed, not packaged.
//   --byzantine flip|random  send lying signs (the packet stays well-formed)
//   --delay-ms N             N ms of extra "compute" per round (a straggler)
// Both act through EdgeConfig::tamper_update, after compression and before
// the update is timed and sent, exactly where a real slow or lying client would.
#include <chrono>
#include <string>
#include <thread>

#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "edge/cli.h"

namespace {

using namespace signfed;

// Byzantine behaviour: only the signs lie. Dense: every sign bit; sparse: the
// sign of every nonzero; other encodings are sent as they are.
void corrupt(codec::SignPacket& p, bool flip, std::uint64_t seed) {
  data::Rng rng(seed ^ 0xbad);
  if (p.encoding == wire::Encoding::dense_sign) {
    for (std::uint64_t i = 0; i < p.dim; ++i)
      if (flip || (rng.next() >> 63)) p.payload[i >> 3] ^= static_cast<std::uint8_t>(1u << (i & 7));
  } else if (p.encoding == wire::Encoding::sparse_sign) {
    codec::SparseSigns lie = codec::decode_sparse(p.view());
    for (auto& n : lie.negative) n = flip ? !n : static_cast<std::uint8_t>(rng.next() >> 63);
    p = codec::encode_sparse(lie);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string byzantine;
  std::uint32_t delay_ms = 0;
  return edge::edge_main(argc, argv, "signfed-edge-faulty", [&](CLI::App& app, edge::EdgeConfig& cfg) {
    app.add_option("--delay-ms", delay_ms, "artificial extra compute time per round (straggler testing)");
    app.add_option("--byzantine", byzantine, "send lying signs, for robustness tests: flip | random")
        ->check(CLI::IsMember({"flip", "random"}));
    // Reads the flags when called, i.e. after parsing.
    cfg.tamper_update = [&byzantine, &delay_ms, &cfg](std::uint32_t round, codec::SignPacket& p) {
      if (!byzantine.empty()) corrupt(p, byzantine == "flip", data::mix_seed(cfg.data_seed, cfg.client_index, round));
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    };
  });
}
