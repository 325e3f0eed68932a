// Aggregation of client updates: majority vote over signs, mean over floats.
//
// Aggregation is a pure function of the verified packets of one round (the
// caller has run codec::validate on each with the model's dimension) plus the
// tie rule and a per-round seed; it keeps no state and is thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/codec/packet.h"
#include "core/kernels/sign_kernels.h"
#include "schema/signfed_generated.h"

namespace signfed::methods {

using kernels::kMarginBins;

// The observable face of the success-probability (SPB) condition: how decided
// each coordinate's vote was. margin = |sum of votes| / (votes cast on it).
struct VoteStats {
  std::uint32_t voters = 0;       // packets aggregated
  std::uint64_t considered = 0;   // coordinates with at least one vote (dense: all)
  std::uint64_t moved = 0;        // coordinates whose voted sign is nonzero
  std::uint64_t ties = 0;         // coordinates with a zero sum among those considered
  std::uint64_t margin_hist[kMarginBins] = {};  // over considered coordinates, bin b = [b/B, (b+1)/B)
};

struct VoteOutcome {
  codec::TernarySigns signs;
  VoteStats stats;
  // Per packet, in order: agreement_with_vote(packets, signs), computed from
  // the bitmaps the vote decoded anyway (one decode per packet, not two).
  std::vector<double> agreement;
};

// Dense majority vote (Safaryan Alg. 2 line 6): sign of the sum of the M
// voters' signs, sign(0) = 0: a voter whose coordinate is 0 abstains on it.
// Packets may be any sign encoding of `dim` coordinates (dense_sign: no
// abstention). Ties (as many + as -): TieRule::zero leaves the coordinate
// unmoved (as in the papers); TieRule::random draws a fair coin from
// tie_seed, which keeps the 1-bit downlink dense and the vote unbiased. A
// coordinate every voter abstained on stays 0 under either rule.
// Any M: the bit-sliced kernel up to 65,535 voters (32,767 when some
// abstain), integer counters above.
// margin_hist bins |sum| / M over every coordinate (abstentions count 0).
VoteOutcome majority_vote_dense(std::span<const codec::PacketView> packets, std::uint32_t dim, wire::TieRule tie_rule,
                                std::uint64_t tie_seed, const kernels::SignKernels& kernels);

// Majority vote over the union of supports (S3GD-MV Sec. 2.2): coordinates
// nobody voted on stay 0; packets may mix sparse_sign, ternary and dense_sign.
VoteOutcome majority_vote_sparse(std::span<const codec::PacketView> packets, std::uint32_t dim,
                                 wire::TieRule tie_rule, std::uint64_t tie_seed);

// How the mean methods combine their clients' decoded vectors (--aggregate, --clip).
enum class AggregateRule {
  mean,     // weighted mean (the default)
  median,   // coordinate-wise median, unweighted; even counts: the mean of the two middle values
  trimmed,  // coordinate-wise trimmed mean, unweighted: floor(trim * K) values dropped from each end
};
struct AggregateOptions {
  AggregateRule rule = AggregateRule::mean;
  double trim = 0.0;  // trimmed: the fraction dropped from each end, 0 < trim < 0.5
  double clip = 0.0;  // each decoded update scaled to L2 norm at most clip before combining; 0: off
};
// "mean" | "median" | "trimmed:F", as --aggregate and runs.config spell it.
std::string aggregate_rule_name(const AggregateOptions& o);
// Parses that form into o.rule and o.trim; returns "" or what is wrong and what to write instead.
std::string parse_aggregate_rule(std::string_view text, AggregateOptions* o);

// Combines scale * signs (stochsign, efsign) or float32 vectors (fedsgd,
// fedavg), each first clipped to L2 norm opt.clip (if > 0; norms in double).
// mean: sum_k w_k x_k / sum_k w_k, each term rounded once to double and
// summed exactly (a MeanTally, tally.h), so the order of the packets does not
// matter; weights: one per packet, whole numbers >= 0 below 2^32 (McMahan et
// al.: the clients' sample counts; all 1 for the unweighted mean); a term
// beyond 2^40 gives NaN everywhere. median and trimmed read the weights only
// for their count: every packet counts once.
std::vector<float> mean_aggregate(std::span<const codec::PacketView> packets, std::span<const double> weights,
                                  std::uint32_t dim, const AggregateOptions& opt = {});

// Per-voter agreement with the outcome: fraction of that voter's nonzero
// votes on moved coordinates that matched the voted sign (1.0 = always with
// the majority). Used to flag clients far from the rest.
std::vector<double> agreement_with_vote(std::span<const codec::PacketView> packets, const codec::TernarySigns& vote);

}  // namespace signfed::methods
