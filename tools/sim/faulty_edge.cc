// signfed-edge-faulty: signfed-edge plus fault injection, for the simulator's
// --processes mode and the e2e/security tests; not installed, not packaged.
//   --byzantine flip|random  send lying signs (the packet stays well-formed)
//   --byzantine scale:V      send V in every coordinate (model poisoning)
//   --delay-ms N             N ms of extra "compute" per round (a straggler)
// Both act through EdgeConfig::tamper_update, after compression and before
// the update is timed and sent, exactly where a real slow or lying client would.
#include <charconv>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "edge/cli.h"

namespace {

using namespace signfed;

struct Byzantine {
  enum class Mode { honest, flip, random, scale } mode = Mode::honest;
  float value = 0.0f;  // scale:V
};

// "flip" | "random" | "scale:V" (V a finite float32); false if it is none of them.
bool parse_byzantine(const std::string& text, Byzantine* out) {
  if (text == "flip" || text == "random") {
    out->mode = text == "flip" ? Byzantine::Mode::flip : Byzantine::Mode::random;
    return true;
  }
  if (text.rfind("scale:", 0) != 0) return false;
  const char* first = text.data() + 6;
  const char* last = text.data() + text.size();
  float v = 0.0f;
  const auto r = std::from_chars(first, last, v);
  if (first == last || r.ec != std::errc() || r.ptr != last || !std::isfinite(v)) return false;
  *out = {Byzantine::Mode::scale, v};
  return true;
}

// Byzantine behaviour, for every encoding the clients send:
//   flip / random  sign packets (dense, runs, sparse, ternary): every nonzero
//                  sign flipped or drawn at random, support and scale kept,
//                  re-encoded in the smallest exact coding; float32: every
//                  coordinate negated, or given a random sign.
//   scale:V        float32: V in every coordinate; sign packets: +1 in every
//                  coordinate with scale V (V per coordinate for the scaled
//                  sign methods stochsign and efsign; an all-+1 vote otherwise).
void corrupt(codec::SignPacket& p, const Byzantine& b, std::uint64_t seed) {
  data::Rng rng(seed ^ 0xbad);
  const bool flip = b.mode == Byzantine::Mode::flip;
  if (p.encoding == wire::Encoding::float32) {
    std::vector<float> x = codec::decode_float32(p.view());
    for (float& v : x) {
      if (b.mode == Byzantine::Mode::scale) v = b.value;
      else if (flip || (rng.next() >> 63)) v = -v;
    }
    p = codec::encode_float32(x);
    return;
  }
  codec::TernarySigns t = codec::decode_ternary(p.view());
  for (std::size_t byte = 0; byte < t.support.size(); ++byte) {
    if (b.mode == Byzantine::Mode::scale) {
      t.negative[byte] = 0;
      t.support[byte] = 0xFF;
    } else if (flip) {
      t.negative[byte] = static_cast<std::uint8_t>(~t.negative[byte] & t.support[byte]);
    } else {
      for (unsigned bit = 0; bit < 8; ++bit)
        if ((t.support[byte] >> bit) & 1u)
          t.negative[byte] = static_cast<std::uint8_t>((t.negative[byte] & ~(1u << bit)) | ((rng.next() >> 63) << bit));
    }
  }
  if (t.dim % 8 != 0) t.support.back() &= static_cast<std::uint8_t>((1u << (t.dim % 8)) - 1);  // no bits past dim
  const float scale = b.mode == Byzantine::Mode::scale ? b.value : p.scale;
  p = codec::encode_ternary_best(t);
  p.scale = scale;
}

}  // namespace

int main(int argc, char** argv) {
  std::string byzantine_text;
  Byzantine byzantine;
  std::uint32_t delay_ms = 0;
  return edge::edge_main(argc, argv, "signfed-edge-faulty", [&](CLI::App& app, edge::EdgeConfig& cfg) {
    app.add_option("--delay-ms", delay_ms, "artificial extra compute time per round (straggler testing)");
    app.add_option("--byzantine", byzantine_text,
                   "lie, for robustness tests: flip | random (every sign, or every float's sign, flipped or "
                   "random) | scale:V (V in every coordinate: float32 methods, or +1 signs with scale V)")
        ->check(CLI::Validator(
            [](std::string& s) {
              Byzantine b;
              return parse_byzantine(s, &b) ? std::string()
                                            : "--byzantine must be flip, random or scale:V with V a finite "
                                              "float32 (e.g. scale:3e38), got '" + s + "'";
            },
            "flip|random|scale:V"));
    // Reads the flags when called, i.e. after parsing.
    cfg.tamper_update = [&byzantine_text, &byzantine, &delay_ms, &cfg](std::uint32_t round, codec::SignPacket& p) {
      if (!byzantine_text.empty() && byzantine.mode == Byzantine::Mode::honest)
        parse_byzantine(byzantine_text, &byzantine);  // checked by the validator
      if (byzantine.mode != Byzantine::Mode::honest)
        corrupt(p, byzantine, data::mix_seed(cfg.data_seed, cfg.client_index, round));
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    };
  });
}
