// signsgd and signum: every client sends sign(g); the coordinator takes the
// sign of the sum over all coordinates (Safaryan Alg. 2).
#include "core/methods/internal/encode.h"
#include "core/methods/strategies.h"

namespace signfed::methods {

namespace internal {
codec::SignPacket encode_signs(std::span<const float> g) {
  // Safaryan Alg. 2 line 5: the node sends sign(g), sign(0) = 0 (footnote 2):
  // 1 bit a coordinate when no coordinate is 0, else the smallest exact coding.
  return codec::encode_ternary_best(codec::ternary_signs(g));
}
}  // namespace internal

VoteOutcome DenseVote::vote(std::span<const codec::PacketView> views, std::uint32_t dim, std::uint64_t tie_seed) const {
  return majority_vote_dense(views, dim, cfg_.method.tie_rule, tie_seed, kernels::best_sign_kernels());
}

}  // namespace signfed::methods
