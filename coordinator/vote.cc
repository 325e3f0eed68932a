#include "coordinator/vote.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>

#include "data/rng.h"

namespace signfed::coord {
namespace {

using codec::CodecError;
using kernels::packed_bytes;

void set_bit(std::vector<std::uint8_t>& b, std::uint32_t i) { b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7)); }
bool get_bit(std::span<const std::uint8_t> b, std::uint32_t i) { return (b[i >> 3] >> (i & 7)) & 1u; }

int margin_bin(std::int64_t abs_sum, std::int64_t votes) {
  if (votes <= 0) return 0;
  const std::int64_t b = abs_sum * kMarginBins / votes;
  return static_cast<int>(std::min<std::int64_t>(b, kMarginBins - 1));
}

}  // namespace

VoteOutcome majority_vote_dense(std::span<const codec::PacketView> packets, std::uint32_t dim, wire::TieRule tie_rule,
                                std::uint64_t tie_seed, const kernels::SignKernels& kernels) {
  std::vector<const std::uint8_t*> voters;
  voters.reserve(packets.size());
  for (const auto& p : packets) {
    if (p.encoding != wire::Encoding::dense_sign || p.dim != dim || p.payload.size() != packed_bytes(dim))
      throw CodecError("dense vote needs dense_sign packets of " + std::to_string(dim) + " coordinates");
    voters.push_back(p.payload.data());
  }
  VoteOutcome out;
  out.signs.dim = dim;
  out.signs.negative.assign(packed_bytes(dim), 0);
  std::vector<std::uint8_t> tie(packed_bytes(dim), 0);
  const kernels::DenseVoteCounts c = kernels.vote_dense(voters, dim, out.signs.negative, tie);
  // support = not a tie; pad bits stay 0.
  out.signs.support.assign(packed_bytes(dim), 0);
  for (std::size_t b = 0; b < out.signs.support.size(); ++b) out.signs.support[b] = static_cast<std::uint8_t>(~tie[b]);
  if (dim % 8 != 0 && !out.signs.support.empty()) out.signs.support.back() &= static_cast<std::uint8_t>((1u << (dim % 8)) - 1);

  out.stats.voters = static_cast<std::uint32_t>(packets.size());
  out.stats.considered = dim;
  out.stats.ties = c.ties;
  std::copy(std::begin(c.margin_hist), std::end(c.margin_hist), std::begin(out.stats.margin_hist));
  if (tie_rule == wire::TieRule::random && c.ties > 0) {
    data::Rng coin(tie_seed);
    for (std::uint32_t i = 0; i < dim; ++i) {
      if (!get_bit(tie, i)) continue;
      set_bit(out.signs.support, i);
      if (coin.next() >> 63) set_bit(out.signs.negative, i);
    }
  }
  out.stats.moved = out.signs.nnz();
  return out;
}

VoteOutcome majority_vote_sparse(std::span<const codec::PacketView> packets, std::uint32_t dim,
                                 wire::TieRule tie_rule, std::uint64_t tie_seed) {
  std::vector<std::int32_t> sum(dim, 0);
  std::vector<std::int32_t> votes(dim, 0);
  for (const auto& p : packets) {
    if (p.dim != dim) throw CodecError("vote packet has the wrong dimension");
    if (p.encoding == wire::Encoding::sparse_sign) {
      const codec::SparseSigns s = codec::decode_sparse(p);
      for (std::size_t j = 0; j < s.index.size(); ++j) {
        sum[s.index[j]] += s.negative[j] ? -1 : 1;
        ++votes[s.index[j]];
      }
    } else {
      const codec::TernarySigns t = codec::decode_ternary(p);
      for (std::uint32_t i = 0; i < dim; ++i) {
        const int v = t.at(i);
        if (v == 0) continue;
        sum[i] += v;
        ++votes[i];
      }
    }
  }
  VoteOutcome out;
  out.signs = codec::TernarySigns::zeros(dim);
  out.stats.voters = static_cast<std::uint32_t>(packets.size());
  data::Rng coin(tie_seed);
  for (std::uint32_t i = 0; i < dim; ++i) {
    if (votes[i] == 0) continue;  // outside the union of supports: stays 0
    ++out.stats.considered;
    ++out.stats.margin_hist[margin_bin(std::abs(sum[i]), votes[i])];
    if (sum[i] > 0) {
      set_bit(out.signs.support, i);
    } else if (sum[i] < 0) {
      set_bit(out.signs.support, i);
      set_bit(out.signs.negative, i);
    } else {
      ++out.stats.ties;
      if (tie_rule == wire::TieRule::random) {
        set_bit(out.signs.support, i);
        if (coin.next() >> 63) set_bit(out.signs.negative, i);
      }
    }
  }
  out.stats.moved = out.signs.nnz();
  return out;
}

std::vector<float> mean_aggregate(std::span<const codec::PacketView> packets, std::uint32_t dim) {
  std::vector<double> acc(dim, 0.0);
  for (const auto& p : packets) {
    if (p.dim != dim) throw CodecError("update packet has the wrong dimension");
    if (p.encoding == wire::Encoding::float32) {
      const std::vector<float> x = codec::decode_float32(p);
      for (std::uint32_t i = 0; i < dim; ++i) acc[i] += x[i];
    } else {
      const codec::TernarySigns t = codec::decode_ternary(p);
      for (std::uint32_t i = 0; i < dim; ++i) acc[i] += static_cast<double>(p.scale) * t.at(i);
    }
  }
  std::vector<float> mean(dim, 0.0f);
  if (packets.empty()) return mean;
  const double inv = 1.0 / static_cast<double>(packets.size());
  for (std::uint32_t i = 0; i < dim; ++i) mean[i] = static_cast<float>(acc[i] * inv);
  return mean;
}

std::vector<double> agreement_with_vote(std::span<const codec::PacketView> packets, const codec::TernarySigns& vote) {
  std::vector<double> agree;
  agree.reserve(packets.size());
  const std::size_t nb = packed_bytes(vote.dim);
  for (const auto& p : packets) {
    // Bitmap arithmetic: a vote was cast where both supports overlap, and
    // matched where, in addition, the sign bits are equal.
    const codec::TernarySigns t = codec::decode_ternary(p);
    std::uint64_t cast = 0, matched = 0;
    for (std::size_t b = 0; b < nb; ++b) {
      const unsigned both = vote.support[b] & t.support[b];
      cast += static_cast<unsigned>(std::popcount(both));
      matched += static_cast<unsigned>(std::popcount(both & ~(vote.negative[b] ^ t.negative[b]) & 0xFFu));
    }
    agree.push_back(cast ? static_cast<double>(matched) / static_cast<double>(cast) : 1.0);
  }
  return agree;
}

}  // namespace signfed::coord
