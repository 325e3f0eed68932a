#include "core/methods/vote.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/codec/internal/bit_count.h"
#include "core/data/rng.h"
#include "core/methods/internal/update_values.h"
#include "core/methods/tally.h"

namespace signfed::methods {
namespace {

using codec::CodecError;
using kernels::packed_bytes;

void set_bit(std::vector<std::uint8_t>& b, std::uint32_t i) { b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7)); }
bool get_bit(std::span<const std::uint8_t> b, std::uint32_t i) { return (b[i >> 3] >> (i & 7)) & 1u; }

// How a voter's support bitmap is given to agreement_of.
enum class Support { all, given, not_up };  // not_up: the bitmap is up = negative | ~support

// A voter's agreement with the vote (agreement_with_vote), 64 coordinates a step.
double agreement_of(Support how, std::span<const std::uint8_t> support, std::span<const std::uint8_t> negative,
                    const codec::TernarySigns& vote) {
  using codec::internal::load_word;
  using codec::internal::popcount64;
  std::uint64_t cast = 0, matched = 0;
  for (std::size_t w = 0; w < codec::internal::words_of(vote.support.size()); ++w) {
    const std::uint64_t neg = load_word(negative, w);
    // neg is inside the support, so support = ~up | neg; pad bits of the vote's support are 0.
    const std::uint64_t sup = how == Support::all     ? ~std::uint64_t{0}
                              : how == Support::given ? load_word(support, w)
                                                      : ~load_word(support, w) | neg;
    const std::uint64_t both = load_word(vote.support, w) & sup;
    cast += codec::internal::popcount64(both);
    matched += popcount64(both & ~(load_word(vote.negative, w) ^ neg));
  }
  return cast ? static_cast<double>(matched) / static_cast<double>(cast) : 1.0;
}

// The same for a sparse voter, entry by entry (no bitmap of its support).
double agreement_of(const codec::SparseSigns& s, const codec::TernarySigns& vote) {
  std::uint64_t cast = 0, matched = 0;
  for (std::size_t j = 0; j < s.index.size(); ++j) {  // no branch: whether the vote moved is a coin flip too
    const unsigned moved = get_bit(vote.support, s.index[j]);
    cast += moved;
    matched += moved & static_cast<unsigned>(get_bit(vote.negative, s.index[j]) == (s.negative[j] != 0));
  }
  return cast ? static_cast<double>(matched) / static_cast<double>(cast) : 1.0;
}

int margin_bin(std::int64_t abs_sum, std::int64_t votes) {
  if (votes <= 0) return 0;
  const std::int64_t b = abs_sum * kMarginBins / votes;
  return static_cast<int>(std::min<std::int64_t>(b, kMarginBins - 1));
}

}  // namespace

VoteOutcome majority_vote_dense(std::span<const codec::PacketView> packets, std::uint32_t dim, wire::TieRule tie_rule,
                                std::uint64_t tie_seed, const kernels::SignKernels& kernels) {
  // The bit-sliced kernel counts at most kMaxKernelVoters bit vectors; a
  // voter that abstains somewhere takes two (below). Larger votes are tallied
  // with integer counters (any M the CLI accepts).
  constexpr std::size_t kMaxKernelVoters = 65535;
  for (const auto& p : packets)
    if (p.dim != dim || p.encoding == wire::Encoding::float32)
      throw CodecError("dense vote needs sign packets of " + std::to_string(dim) + " coordinates");
  const bool all_dense = std::all_of(packets.begin(), packets.end(),
                                     [](const auto& p) { return p.encoding == wire::Encoding::dense_sign; });
  const std::size_t copies = all_dense ? 1 : 2;
  if (copies * packets.size() > kMaxKernelVoters) {
    VoteOutcome out = majority_vote_sparse(packets, dim, tie_rule, tie_seed);
    out.stats.considered = dim;
    return out;
  }
  const std::size_t nb = packed_bytes(dim);
  // Safaryan Alg. 2 line 6 with sign(0) = 0: vote = sign(P - N) over the
  // voters that did not abstain. Each voter enters the kernel twice: a
  // non-abstaining coordinate as its sign bit in both copies (2 x +-1), an
  // abstention as a set bit in one copy and a clear bit in the other (+1 - 1
  // = 0). The kernel's "more set than clear" over 2M copies is then exactly
  // N > P, and its tie exactly N = P. Without abstentions one copy suffices.
  std::vector<const std::uint8_t*> voters;
  voters.reserve(copies * packets.size());
  std::vector<std::vector<std::uint8_t>> owned;  // decoded copies of non-dense packets
  owned.reserve(2 * packets.size());
  std::vector<std::uint8_t> any_vote(nb, 0);     // coordinates at least one voter voted on
  bool dense_voter = false;                      // then every coordinate was voted on
  for (const auto& p : packets) {
    if (p.encoding == wire::Encoding::dense_sign) {
      codec::validate(p, dim);
      for (std::size_t k = 0; k < copies; ++k) voters.push_back(p.payload.data());
      if (!dense_voter) std::fill(any_vote.begin(), any_vote.end(), 0xFF);  // once, not per packet
      dense_voter = true;
      continue;
    }
    codec::TernarySigns t = codec::decode_ternary(p);
    std::vector<std::uint8_t> up(nb);
    for (std::size_t b = 0; b < nb; ++b) {
      up[b] = static_cast<std::uint8_t>(t.negative[b] | ~t.support[b]);
      any_vote[b] |= t.support[b];
    }
    if (dim % 8 != 0 && nb > 0) up.back() &= static_cast<std::uint8_t>((1u << (dim % 8)) - 1);
    owned.push_back(std::move(up));
    voters.push_back(owned.back().data());
    owned.push_back(std::move(t.negative));
    voters.push_back(owned.back().data());
  }
  if (dim % 8 != 0 && nb > 0) any_vote.back() &= static_cast<std::uint8_t>((1u << (dim % 8)) - 1);

  VoteOutcome out;
  out.signs.dim = dim;
  out.signs.negative.assign(nb, 0);
  std::vector<std::uint8_t> tie(nb, 0);
  const kernels::DenseVoteCounts c = kernels.vote_dense(voters, dim, out.signs.negative, tie);
  // support = not a tie; pad bits stay 0.
  out.signs.support.assign(nb, 0);
  for (std::size_t b = 0; b < nb; ++b) out.signs.support[b] = static_cast<std::uint8_t>(~tie[b]);
  if (dim % 8 != 0 && nb > 0) out.signs.support.back() &= static_cast<std::uint8_t>((1u << (dim % 8)) - 1);

  out.stats.voters = static_cast<std::uint32_t>(packets.size());
  out.stats.considered = dim;
  out.stats.ties = c.ties;
  std::copy(std::begin(c.margin_hist), std::end(c.margin_hist), std::begin(out.stats.margin_hist));
  if (tie_rule == wire::TieRule::random && c.ties > 0) {
    // A coin only where somebody voted: a coordinate everyone abstained on stays 0.
    data::Rng coin(tie_seed);
    for (std::uint32_t i = 0; i < dim; ++i) {
      if (!get_bit(tie, i) || !get_bit(any_vote, i)) continue;
      set_bit(out.signs.support, i);
      if (coin.next() >> 63) set_bit(out.signs.negative, i);
    }
  }
  out.stats.moved = out.signs.nnz();
  out.agreement.reserve(packets.size());
  for (std::size_t j = 0, k = 0; j < packets.size(); ++j) {
    if (packets[j].encoding == wire::Encoding::dense_sign) {
      out.agreement.push_back(agreement_of(Support::all, {}, packets[j].payload, out.signs));
    } else {
      out.agreement.push_back(agreement_of(Support::not_up, owned[k], owned[k + 1], out.signs));
      k += 2;
    }
  }
  return out;
}

VoteOutcome majority_vote_sparse(std::span<const codec::PacketView> packets, std::uint32_t dim,
                                 wire::TieRule tie_rule, std::uint64_t tie_seed) {
  // Per coordinate the sum of the signs and the votes cast, side by side (one
  // cache line per scattered update).
  struct Tally {
    std::int32_t sum = 0, votes = 0;
  };
  std::vector<Tally> tally(dim);
  // Each packet decoded once, kept for the agreement below; one that arrives
  // decoded (PacketView::sparse, from the validation that admitted it) is not
  // walked again.
  std::vector<codec::SparseSigns> decoded;
  decoded.reserve(packets.size());  // the pointers below stay valid
  std::vector<const codec::SparseSigns*> sparse;
  std::vector<codec::TernarySigns> ternary;
  for (const auto& p : packets) {
    if (p.dim != dim) throw CodecError("vote packet has the wrong dimension");
    if (p.encoding == wire::Encoding::sparse_sign) {
      const codec::SparseSigns& s = p.sparse && p.sparse->dim == dim ? *p.sparse : decoded.emplace_back(codec::decode_sparse(p));
      sparse.push_back(&s);
      for (std::size_t j = 0; j < s.index.size(); ++j) {
        Tally& t = tally[s.index[j]];
        // A table, not a branch (the compiler turns the arithmetic form back into
        // one): the signs are coin flips, and a mispredict per entry cost most of the vote.
        static constexpr std::int32_t kSign[2] = {1, -1};
        t.sum += kSign[s.negative[j] & 1u];
        ++t.votes;
      }
    } else {
      const codec::TernarySigns& t = ternary.emplace_back(codec::decode_ternary(p));
      for (std::uint32_t i = 0; i < dim; ++i) {
        const int v = t.at(i);
        if (v == 0) continue;
        tally[i].sum += v;
        ++tally[i].votes;
      }
    }
  }
  // margin_bin(|sum|, votes) looked up instead of divided, for the votes of up to kTable voters.
  constexpr std::size_t kTable = 256;
  const std::size_t m = packets.size();
  std::vector<std::uint8_t> bins;
  if (m <= kTable) {
    bins.resize((m + 1) * (m + 1));
    for (std::size_t v = 1; v <= m; ++v)
      for (std::size_t a = 0; a <= v; ++a)
        bins[v * (m + 1) + a] = static_cast<std::uint8_t>(margin_bin(static_cast<std::int64_t>(a), static_cast<std::int64_t>(v)));
  }
  VoteOutcome out;
  out.signs = codec::TernarySigns::zeros(dim);
  out.stats.voters = static_cast<std::uint32_t>(packets.size());
  data::Rng coin(tie_seed);
  for (std::uint32_t i = 0; i < dim; ++i) {
    const auto [sum, votes] = tally[i];
    if (votes == 0) continue;  // outside the union of supports: stays 0
    ++out.stats.considered;
    const std::int32_t abs_sum = std::abs(sum);
    ++out.stats.margin_hist[bins.empty() ? margin_bin(abs_sum, votes)
                                         : bins[static_cast<std::size_t>(votes) * (m + 1) + static_cast<std::size_t>(abs_sum)]];
    // The sign is a coin flip per coordinate: masks, not branches.
    const auto bit = static_cast<std::uint8_t>(1u << (i & 7));
    out.signs.support[i >> 3] |= static_cast<std::uint8_t>(bit & -static_cast<int>(sum != 0));
    out.signs.negative[i >> 3] |= static_cast<std::uint8_t>(bit & -static_cast<int>(sum < 0));
    if (sum == 0) {
      ++out.stats.ties;
      if (tie_rule == wire::TieRule::random) {
        set_bit(out.signs.support, i);
        if (coin.next() >> 63) set_bit(out.signs.negative, i);
      }
    }
  }
  out.stats.moved = out.signs.nnz();
  out.agreement.reserve(packets.size());
  std::size_t si = 0, ti = 0;
  for (const auto& p : packets) {
    if (p.encoding != wire::Encoding::sparse_sign) {
      const codec::TernarySigns& t = ternary[ti++];
      out.agreement.push_back(agreement_of(Support::given, t.support, t.negative, out.signs));
      continue;
    }
    out.agreement.push_back(agreement_of(*sparse[si++], out.signs));
  }
  return out;
}

namespace internal {

std::vector<float> decode_values(const codec::PacketView& p) {
  if (p.encoding == wire::Encoding::float32) return codec::decode_float32(p);
  const codec::TernarySigns t = codec::decode_ternary(p);
  std::vector<float> x(p.dim);
  for (std::uint32_t i = 0; i < p.dim; ++i) x[i] = p.scale * static_cast<float>(t.at(i));
  return x;
}

double clip_factor(std::span<const float> x, double clip) {
  if (!(clip > 0.0)) return 1.0;
  double sq = 0.0;
  for (float v : x) sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sq);
  return norm > clip ? clip / norm : 1.0;
}

}  // namespace internal

using internal::clip_factor;
using internal::decode_values;

namespace {

// Coordinate-wise: the mean of the K values left after dropping `drop` from each sorted end.
std::vector<float> trimmed_mean(std::span<const std::vector<float>> xs, std::span<const double> factors,
                                std::uint32_t dim, std::size_t drop) {
  const std::size_t k = xs.size();
  std::vector<double> col(k);
  std::vector<float> out(dim);
  for (std::uint32_t i = 0; i < dim; ++i) {
    for (std::size_t j = 0; j < k; ++j) col[j] = factors[j] * static_cast<double>(xs[j][i]);
    std::sort(col.begin(), col.end());
    double sum = 0.0;
    for (std::size_t j = drop; j < k - drop; ++j) sum += col[j];
    out[i] = static_cast<float>(sum / static_cast<double>(k - 2 * drop));
  }
  return out;
}

}  // namespace

std::string aggregate_rule_name(const AggregateOptions& o) {
  switch (o.rule) {
    case AggregateRule::mean:
      return "mean";
    case AggregateRule::median:
      return "median";
    case AggregateRule::trimmed: {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, o.trim);
      return "trimmed:" + std::string(buf, r.ptr);
    }
  }
  return "mean";
}

std::string parse_aggregate_rule(std::string_view text, AggregateOptions* o) {
  const std::string bad = "--aggregate must be mean, median or trimmed:F with 0 < F < 0.5 (the fraction dropped "
                          "from each end, e.g. trimmed:0.1), got '" + std::string(text) + "'";
  if (text == "mean" || text == "median") {
    o->rule = text == "mean" ? AggregateRule::mean : AggregateRule::median;
    o->trim = 0.0;
    return "";
  }
  constexpr std::string_view prefix = "trimmed:";
  if (text.substr(0, prefix.size()) != prefix) return bad;
  const std::string_view f = text.substr(prefix.size());
  double trim = 0.0;
  const auto r = std::from_chars(f.data(), f.data() + f.size(), trim);
  if (f.empty() || r.ec != std::errc() || r.ptr != f.data() + f.size() || !(trim > 0.0 && trim < 0.5)) return bad;
  o->rule = AggregateRule::trimmed;
  o->trim = trim;
  return "";
}

std::vector<float> mean_aggregate(std::span<const codec::PacketView> packets, std::span<const double> weights,
                                  std::uint32_t dim, const AggregateOptions& opt) {
  if (weights.size() != packets.size()) throw CodecError("mean_aggregate: one weight per packet");
  for (std::size_t k = 0; k < packets.size(); ++k) {
    if (packets[k].dim != dim) throw CodecError("update packet has the wrong dimension");
    if (!(weights[k] >= 0.0) || !std::isfinite(weights[k])) throw CodecError("mean_aggregate: bad weight");
  }
  if (packets.empty()) return std::vector<float>(dim, 0.0f);

  if (opt.rule != AggregateRule::mean) {  // unweighted: every packet counts once
    std::vector<std::vector<float>> xs;
    std::vector<double> factors;
    for (const auto& p : packets) {
      xs.push_back(decode_values(p));
      factors.push_back(clip_factor(xs.back(), opt.clip));
    }
    const std::size_t k = xs.size();
    const std::size_t drop = opt.rule == AggregateRule::median
                                 ? (k - 1) / 2
                                 : static_cast<std::size_t>(std::floor(opt.trim * static_cast<double>(k) + 1e-9));
    return trimmed_mean(xs, factors, dim, std::min(drop, (k - 1) / 2));
  }

  // The weighted mean as a tally (tally.h): each term rounded once, summed
  // exactly, so the result is the same in any packet order or relay grouping.
  std::vector<std::uint64_t> whole(packets.size());
  for (std::size_t k = 0; k < packets.size(); ++k) {
    if (weights[k] != std::floor(weights[k]) || weights[k] > 4294967295.0)
      throw CodecError("mean_aggregate: weights are whole numbers (sample counts) below 2^32");
    whole[k] = static_cast<std::uint64_t>(weights[k]);
  }
  MeanTally t(dim);
  t.add(packets, whole, opt.clip);
  std::vector<float> m = mean(t);
  if (m.empty()) m.assign(dim, std::numeric_limits<float>::quiet_NaN());  // a term beyond the exact range
  return m;
}

std::vector<double> agreement_with_vote(std::span<const codec::PacketView> packets, const codec::TernarySigns& vote) {
  std::vector<double> agree;
  agree.reserve(packets.size());
  for (const auto& p : packets) {
    // Bitmap arithmetic: a vote was cast where both supports overlap, and
    // matched where, in addition, the sign bits are equal.
    if (p.encoding == wire::Encoding::dense_sign) {  // every coordinate votes: the payload is the sign bitmap
      codec::validate(p, vote.dim);
      agree.push_back(agreement_of(Support::all, {}, p.payload, vote));
      continue;
    }
    if (p.encoding == wire::Encoding::sparse_sign) {  // its entries; decoded already if it arrived so (PacketView::sparse)
      if (p.sparse && p.sparse->dim == vote.dim) {
        agree.push_back(agreement_of(*p.sparse, vote));
      } else {
        if (p.dim != vote.dim) throw CodecError("vote packet has the wrong dimension");
        agree.push_back(agreement_of(codec::decode_sparse(p), vote));
      }
      continue;
    }
    const codec::TernarySigns t = codec::decode_ternary(p);
    agree.push_back(agreement_of(Support::given, t.support, t.negative, vote));
  }
  return agree;
}

}  // namespace signfed::methods
