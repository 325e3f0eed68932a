// s3gd (TopKSign with error compensation, S3GD-MV Alg. 1) and randk
// (RandKSign, S3GD-MV Alg. 2): each client sends the signs of K coordinates;
// the coordinator votes over the union of supports (S3GD-MV Sec. 2.2).
#include <algorithm>

#include "core/data/rng.h"
#include "core/methods/internal/encode.h"
#include "core/methods/strategies.h"

namespace signfed::methods {

namespace internal {

codec::SignPacket encode_topk(EncoderState& s, std::span<const float> g, const MethodConfig& cfg) {
  // S3GD-MV eq. (5): g = g~ + eta * e.
  for (std::size_t i = 0; i < s.dim; ++i) s.work[i] = g[i] + cfg.eta * s.error[i];
  check_finite(s.work);
  const std::size_t k = topk_count(s.dim, cfg.gamma);
  s.index.resize(k);
  const std::size_t got = s.kernels.select_topk(s.work, k, s.index, s.scratch);
  s.index.resize(got);
  // S3GD-MV eq. (6): e = g - TopK(g): the unsent coordinates carry over.
  std::copy(s.work.begin(), s.work.end(), s.error.begin());
  for (std::uint32_t i : s.index) s.error[i] = 0.0f;
  // S3GD-MV eq. (4): TopKSign = sgn(TopK(g)) with sgn(0) = 0: a selected
  // coordinate that is exactly 0 (fewer than K nonzeros) is not a vote.
  std::erase_if(s.index, [&](std::uint32_t i) { return s.work[i] == 0.0f; });
  return codec::encode_sparse(static_cast<std::uint32_t>(s.dim), s.index, s.work);
}

codec::SignPacket encode_randk(EncoderState& s, std::span<const float> g, const MethodConfig& cfg,
                               std::uint64_t seed) {
  // S3GD-MV Alg. 2 (RandKSign): K coordinates uniformly without replacement.
  // Selection sampling (Knuth's Algorithm S) yields them already sorted.
  const std::size_t k = topk_count(s.dim, cfg.gamma);
  s.index.clear();
  data::Rng rng(seed);
  std::size_t needed = k;
  for (std::size_t i = 0; i < s.dim && needed > 0; ++i) {
    if (rng.below(s.dim - i) < needed) {
      s.index.push_back(static_cast<std::uint32_t>(i));
      --needed;
    }
  }
  // RandKSign = sgn(RandK(g)), sgn(0) = 0: a drawn zero coordinate abstains.
  std::erase_if(s.index, [&](std::uint32_t i) { return g[i] == 0.0f; });
  return codec::encode_sparse(static_cast<std::uint32_t>(s.dim), s.index, g);
}

}  // namespace internal

VoteOutcome SparseVote::vote(std::span<const codec::PacketView> views, std::uint32_t dim,
                             std::uint64_t tie_seed) const {
  return majority_vote_sparse(views, dim, cfg_.method.tie_rule, tie_seed);
}

}  // namespace signfed::methods
