// Partial tallies: a round's counted updates folded into numbers that add.
//
// A vote is a sum of +1, -1 and abstentions per coordinate, so the tallies of
// two disjoint sets of clients add up to the tally of their union, in any
// order and grouping. A relay (signfed-relay) sends its parent the tally of
// its children instead of their packets; signfed-sim --mpi reduces its ranks'
// tallies. decide()/mean() on the combined tally give bit for bit what the
// flat aggregate gives on all the packets (majority_vote_dense/_sparse,
// mean_aggregate with AggregateRule::mean): tests/methods/tally_test.cc.
//
//   VoteTally  per coordinate: + votes, - votes (abstentions count in neither)
//   MeanTally  per coordinate: sum_k w_k c_k x_k as three int64 limbs of
//              fixed point (c_k: the --clip factor), with sum_k w_k; exact,
//              so its sum does not depend on the order the packets arrive in
//
// Wire form (schema/FORMAT.md, "Partial tallies"): encode_tally() /
// decode_tally(); decode validates everything (CodecError, as the packet
// codecs). Coordinate-wise median and trimmed mean have no partial form:
// they need every packet.
//
// Values, not services: no shared state; a tally is thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "core/codec/packet.h"
#include "core/methods/vote.h"

namespace signfed::methods {

// Which vote's statistics decide() reproduces.
enum class VoteKind : std::uint8_t {
  dense,   // majority_vote_dense: every coordinate considered, margin over all voters
  sparse,  // majority_vote_sparse: the union of supports, margin over the votes cast
};

struct VoteTally {
  std::uint32_t dim = 0;
  std::uint32_t voters = 0;        // packets folded in
  bool abstaining_codings = false; // some packet was not dense_sign (the dense vote's kernel path counts it twice)
  std::vector<std::uint32_t> plus, minus;  // per coordinate, dim each

  explicit VoteTally(std::uint32_t d = 0) : dim(d), plus(d, 0), minus(d, 0) {}
  // Folds one sign packet of `dim` coordinates (validated here: CodecError).
  void add(const codec::PacketView& p);
  // Adds another tally of the same dimension (CodecError otherwise).
  void merge(const VoteTally& o);
  friend bool operator==(const VoteTally&, const VoteTally&) = default;
};

// The vote on a tally: signs and statistics exactly as majority_vote_dense
// (kind dense) or majority_vote_sparse (kind sparse) on the packets folded in;
// agreement is left empty (each client's agreement is computed where its
// packet is: agreement_with_vote).
VoteOutcome decide(const VoteTally& t, VoteKind kind, wire::TieRule tie_rule, std::uint64_t tie_seed);

struct MeanTally {
  // The largest |w * c * x| one term may have (2^40): with at most 2^22
  // terms no limb sum overflows int64, whatever the order.
  static constexpr double kMaxTerm = 1099511627776.0;
  static constexpr std::uint32_t kMaxTerms = 1u << 22;
  // Each term t (a double) is split into three integers, t = a0 + a1 2^-40 +
  // a2 2^-80 with |a_k| <= 2^40 (rounded to nearest at 2^-80, the only
  // rounding), and the tally sums each limb in int64: exact integer sums,
  // the same in any order.
  static constexpr int kLimbs = 3;
  static constexpr int kLimbBits = 40;

  std::uint32_t dim = 0;
  std::uint32_t count = 0;         // packets folded in
  std::uint64_t weight = 0;        // sum of the weights (integers: sample counts, or 1)
  bool out_of_range = false;       // a term was 2^40 or more or not finite: the aggregate is refused
  std::vector<std::int64_t> limbs; // kLimbs * dim: limb k of coordinate i at k * dim + i

  explicit MeanTally(std::uint32_t d = 0) : dim(d), limbs(std::size_t{kLimbs} * d, 0) {}
  // Folds one packet (float32, or scale * signs) with integer weight w >= 0
  // (below 2^32), scaled to L2 norm at most clip first when clip > 0 (as
  // mean_aggregate): the terms are w * c * x_i, each rounded once to double.
  void add(const codec::PacketView& p, std::uint64_t w, double clip);
  // The same for several packets at once (weights ws, one per packet): the
  // same tally as adding them one by one, faster (cache-blocked).
  void add(std::span<const codec::PacketView> ps, std::span<const std::uint64_t> ws, double clip);
  void merge(const MeanTally& o);
  friend bool operator==(const MeanTally&, const MeanTally&) = default;
};

// sum / weight per coordinate as float32 (zeros when weight is 0); empty
// when out_of_range.
std::vector<float> mean(const MeanTally& t);

using Tally = std::variant<VoteTally, MeanTally>;

// Adds `from` into `into` (same kind and dimension; CodecError otherwise).
void merge(Tally& into, const Tally& from);
// The updates folded into a tally (VoteTally::voters or MeanTally::count).
std::uint32_t folded(const Tally& t);

// The tally's wire form (FORMAT.md "Partial tallies"): vote counts bit-packed
// at the width of the largest count, dense or over the support (whichever is
// smaller); mean limbs as zigzag varints.
std::vector<std::uint8_t> encode_tally(const Tally& t);
// Parses and validates an encoded tally of `dim` coordinates; CodecError on
// anything malformed (wrong dimension, a count above voters, trailing bytes).
Tally decode_tally(std::span<const std::uint8_t> bytes, std::uint32_t dim);

}  // namespace signfed::methods
