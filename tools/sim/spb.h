// SPB probe (Safaryan & Richtarik, "On Stochastic Sign Descent Methods":
// Assumption 1, Remark 1, Definitions 1-2, eq. (1), Lemma 8). At given model
// parameters it compares every client's minibatch gradient signs with the
// signs of the full gradient and estimates how often the majority vote agrees
// with them. Diagnostics only.
//
// Notation (all per coordinate i with g_i != 0; coordinates with g_i = 0 are
// skipped everywhere, as in the paper's sums):
//   g          = (1/M) sum_m grad f_m(x), grad f_m = mean gradient over client
//                m's whole shard                                       (eq. (1))
//   D          = draws: minibatch gradients ghat per client per probe, each of
//                B rows drawn uniformly with replacement from the client's shard
//                (as EdgeClient::batch_gradient draws them)
//   p+_{m,i}   = share of client m's D draws with sign ghat_i =  sign g_i
//   p-_{m,i}   = share with sign ghat_i = -sign g_i
//   p0_{m,i}   = share with ghat_i == 0: an abstention, not a vote (footnote 2,
//                sign 0 = 0; the coordinator's vote ignores zeros too)
//   rho_{m,i}  = p+ / (p+ + p-): success probability among non-abstaining
//                draws. Remark 1's relaxed SPB E[sign(ghat_i g_i)] > 0 holds iff
//                rho_{m,i} > 1/2; with no abstentions it is Assumption 1's rho_i.
//                Defined as 1/2 when p+ = p- = 0 (always abstains: no signal).
//   rho_i      = sum_m D p+_{m,i} / sum_m D (p+_{m,i} + p-_{m,i}): the pooled
//                success probability over all M*D draws, abstentions excluded
//                (1/2 when every draw abstains).
//   vote       = sign(sum_m v_m), v_m in {+1 right, -1 wrong, 0 abstain} drawn
//                independently per client with probabilities (p+, p-, p0);
//                a tie (sum 0) is no move (tie rule zero).
// The vote's distribution is computed for non-identical voters (an exact
// convolution over them up to kExactVoteLimit random voters per coordinate, a
// normal approximation beyond; see vote_outcome()), not as I(rho; l, l), which
// holds only for identically distributed voters. Plugging the empirical (p+, p-, p0) in gives an unbiased
// estimate of P(vote right) etc.: those are multilinear in the clients'
// independent probability vectors.
//
// Not thread-safe (owns a model and scratch); call from one thread. The free
// functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/standardise.h"
#include "core/model/model.h"

namespace signfed::sim {

// One probe. "coords" below = coordinates with g_i != 0. Gradient units are
// those of the loss (mean cross-entropy) per parameter.
struct SpbRow {
  std::uint32_t round = 0;
  std::uint32_t voters = 0;             // M: every client's shard (not only a round's selection)
  std::uint32_t samples_per_coord = 0;  // M * D minibatch draws per coordinate
  std::uint64_t coords = 0;             // coordinates with g_i != 0
  double frac_le_half = 0.0;            // share of coords with pooled rho_i <= 1/2
  double mean_rho = 0.0;                // mean over coords of pooled rho_i
  double l1 = 0.0;                      // ||g||_1 = sum_i |g_i|
  double rho_norm = 0.0;                // sum_i (2 rho_i - 1) |g_i|, pooled rho_i (Def. 1)
  // sum_i (P(vote right) - P(vote wrong)) |g_i| = E<g, sign vote> (proof of
  // Theorem 3, B.7): Def. 2's sum_i (2 I(rho_i; l, l) - 1) |g_i| generalised to
  // non-identical, abstaining voters; equal to it for identical voters without
  // abstention (Lemma 8).
  double rho_m_norm = 0.0;
  double full_loss = 0.0;               // f(x) = (1/M) sum_m f_m(x), f_m the mean loss over shard m (eq. (1))
  // New with the per-client probe:
  double client_frac_le_half = 0.0;     // mean over clients of the share of coords with rho_{m,i} <= 1/2
                                        // (client m violates Remark 1's relaxed SPB there)
  double vote_frac_le_half = 0.0;       // share of coords where P(vote right) <= P(vote wrong)
  double mean_vote_right = 0.0;         // mean over coords of P(vote = sign g_i)
  double mean_vote_tie = 0.0;           // mean over coords of P(vote = 0): ties and all-abstain
  double abstain_frac = 0.0;            // share of the M*D*coords minibatch entries with ghat_i == 0
};

// One voter's (or `count` identical voters') sign distribution at a
// coordinate, relative to sign g_i: right = P(v = +1), wrong = P(v = -1),
// abstain = 1 - right - wrong. Requires right, wrong >= 0, right + wrong <= 1.
struct Voter {
  double right = 0.0;
  double wrong = 0.0;
  std::uint32_t count = 1;
};

struct VoteOutcome {
  double right = 0.0;  // P(sum_m v_m > 0)
  double wrong = 0.0;  // P(sum_m v_m < 0)
  double tie = 0.0;    // P(sum_m v_m = 0): no move
};

// Voters with more than this many random (not deterministic) members use the
// normal approximation in vote_outcome(). At 256 the exact convolution costs
// ~40 us per coordinate (one x86-64 core) and the approximation is off by ~1e-4.
inline constexpr std::uint32_t kExactVoteLimit = 256;

// Distribution of sign(sum_m v_m) for independent voters. Deterministic voters
// (right, wrong or abstain = 1) only shift the sum. The r others: exact
// dynamic programming over the sum (O(r^2)) when r <= exact_limit; otherwise a
// normal approximation with mean and variance of the sum and a continuity
// correction on its lattice (span 1 when some random voter can abstain, else
// span 2 with the parity of r + shift), error O(1/r) for well-spread voters.
// No voters (or all abstaining) gives tie = 1. Throws std::invalid_argument on
// invalid probabilities. Thread-safe (thread_local scratch).
VoteOutcome vote_outcome(std::span<const Voter> voters, std::uint32_t exact_limit = kExactVoteLimit);

// Tallies the minibatch gradient signs of M voters x D draws against a fixed
// g and turns them into an SpbRow's sign statistics (everything except round,
// full_loss). Memory: 4 * d * min(M, T) bytes, T = (D+1)(D+2)/2 the number of
// possible (#right, #wrong) outcomes of D draws (a histogram over them per
// coordinate when T < M, else one code per voter). Not thread-safe.
class SignTally {
 public:
  // g: the reference gradient (d coordinates; only its signs are used for the
  // tally, |g_i| for the norms). voters M >= 1, draws D in [1, 65535].
  SignTally(std::span<const double> g, std::uint32_t voters, std::uint32_t draws);

  // Adds one minibatch gradient (d floats) of the current voter. Each voter
  // adds exactly D draws, then calls end_voter(); voters in any order.
  void add_draw(std::span<const float> ghat);
  void end_voter();

  // All M voters must have ended. Fills voters, samples_per_coord, coords and
  // every ratio/norm field of row; leaves round and full_loss alone.
  void finish(SpbRow& row) const;

  bool histogram_mode() const { return hist_mode_; }

 private:
  std::uint32_t type_of(std::uint32_t right, std::uint32_t wrong) const;

  std::vector<double> g_;
  std::uint32_t voters_, draws_, types_;
  bool hist_mode_;
  std::uint32_t voters_done_ = 0, draws_done_ = 0;
  std::vector<std::uint32_t> type_right_, type_wrong_;  // per type: #right, #wrong draws
  std::vector<std::uint32_t> cur_right_, cur_wrong_;    // current voter, per coordinate
  std::vector<std::uint32_t> store_;  // histogram: d x T counts; codes: M x d types
};

class SpbProbe {
 public:
  // shards: each client's sample indices into train (as data::partition gives),
  // none empty (std::invalid_argument). batch B and draws D are clamped to >= 1.
  // standardisation is applied to every feature row fed to the model, as the
  // clients apply it.
  SpbProbe(const std::string& model_spec, std::shared_ptr<const data::Dataset> train,
           std::vector<std::vector<std::uint32_t>> shards, std::uint32_t batch, std::uint32_t draws, std::uint64_t seed,
           data::Standardisation standardisation = {});

  // Probes at params (num_params floats). Deterministic in (seed, round, params).
  SpbRow probe(std::uint32_t round, std::span<const float> params);

  // g = (1/M) sum_m grad f_m of the last probe() (empty before the first).
  std::span<const double> full_gradient() const { return full_; }

 private:
  double gradient(std::span<const std::uint32_t> rows, std::span<float> out);

  std::unique_ptr<model::Model> model_;
  std::shared_ptr<const data::Dataset> train_;
  std::vector<std::vector<std::uint32_t>> shards_;
  std::uint32_t batch_, draws_;
  std::uint64_t seed_;
  data::Standardisation standardisation_;
  std::vector<double> full_;
  std::vector<float> g_, chunk_, xbuf_;
  std::vector<std::uint8_t> ybuf_;
  std::vector<std::uint32_t> pick_;
};

}  // namespace signfed::sim
