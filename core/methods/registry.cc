// The table of methods: for each wire::Method, its client-side compressor and
// its coordinator-side strategy. A new method adds one case to each switch.
#include <memory>
#include <stdexcept>
#include <string>

#include "core/methods/internal/encode.h"
#include "core/methods/strategies.h"

namespace signfed::methods {

namespace internal {
codec::SignPacket encode_update(EncoderState& s, std::span<const float> g, const MethodConfig& cfg,
                                std::uint64_t seed) {
  switch (cfg.method) {
    case Method::signsgd:
    case Method::signum: return encode_signs(g);
    case Method::s3gd: return encode_topk(s, g, cfg);
    case Method::randk: return encode_randk(s, g, cfg, seed);
    case Method::stochsign: return encode_stochastic(s, g, seed);
    case Method::efsign: return encode_scaled_ef(s, g, cfg);
    case Method::fedsgd:
    case Method::fedavg: return codec::encode_float32(g);
  }
  throw codec::CodecError("unknown method " + std::to_string(static_cast<int>(cfg.method)));
}
}  // namespace internal

namespace {
std::unique_ptr<Strategy> method_strategy(const StrategyConfig& cfg) {
  switch (cfg.method.method) {
    case Method::signsgd:
    case Method::signum: return std::make_unique<DenseVote>(cfg);
    case Method::s3gd:
    case Method::randk: return std::make_unique<SparseVote>(cfg);
    case Method::stochsign:
    case Method::efsign:
    case Method::fedsgd: return std::make_unique<Mean>(cfg);
    case Method::fedavg: return std::make_unique<FedAvg>(cfg);
  }
  throw std::invalid_argument("no strategy for method " + std::to_string(static_cast<int>(cfg.method.method)));
}
}  // namespace

std::unique_ptr<Strategy> make_strategy(const StrategyConfig& cfg) {
  std::unique_ptr<Strategy> s = method_strategy(cfg);
  if (cfg.guarded_step) s = std::make_unique<GuardedStep>(cfg, std::move(s));
  return s;
}

}  // namespace signfed::methods
