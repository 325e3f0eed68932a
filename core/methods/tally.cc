#include "core/methods/tally.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "core/codec/internal/bit_stream.h"
#include "core/data/rng.h"
#include "core/kernels/internal/tally_term.h"
#include "core/kernels/tally_kernels.h"
#include "core/methods/internal/update_values.h"

namespace signfed::methods {
namespace {

using codec::CodecError;
constexpr double kMaxTermValue = MeanTally::kMaxTerm;

void set_bit(std::vector<std::uint8_t>& b, std::uint32_t i) { b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7)); }

int margin_bin(std::uint64_t abs_sum, std::uint64_t votes) {  // as the kernels: min(floor(|sum| / votes * B), B - 1)
  if (votes == 0) return 0;
  return static_cast<int>(std::min<std::uint64_t>(abs_sum * kMarginBins / votes, kMarginBins - 1));
}

// ---- the mean's fixed point: three int64 limbs -------------------------------

// The split of one term (shared with the kernels' scalar reference).
using kernels::tally_detail::add_term;

// One update's float32 values as MeanTally reads them: straight from a
// float32 payload, or decoded (scale * signs, or a copy to clip).
struct UpdateValues {
  const std::uint8_t* bytes = nullptr;  // little-endian float32s, or
  std::vector<float> owned;             // these
  double wf = 0.0;                      // w * clip factor
  std::int32_t limit = 0;               // largest_in_range(wf)
  bool in_range = true;

  // The float32s' bytes, little-endian (as the kernels read them).
  const std::uint8_t* data() const { return bytes ? bytes : reinterpret_cast<const std::uint8_t*>(owned.data()); }
  std::uint32_t bits(std::size_t i) const {
    std::uint32_t b;
    if (bytes) std::memcpy(&b, bytes + 4 * i, 4);
    else b = std::bit_cast<std::uint32_t>(owned[i]);
    return b;
  }
};

// The largest float32 magnitude, as its bit pattern, whose term |x| * wf is
// finite and below 2^40 (-1 if none is). The term's rounding is monotonic in
// |x| and the bit patterns of finite magnitudes are ordered as the magnitudes,
// so the magnitudes in range are exactly the patterns up to this one (NaN and
// inf sort above every finite value): found once per update by bisection.
std::int32_t largest_in_range(double wf) {
  auto in_range = [wf](std::uint32_t bits) { return std::fabs(static_cast<double>(std::bit_cast<float>(bits)) * wf) < kMaxTermValue; };
  std::uint32_t lo = 0, hi = 0x7F7FFFFFu;  // the largest finite magnitude
  if (!in_range(lo)) return -1;
  if (in_range(hi)) return static_cast<std::int32_t>(hi);
  while (hi - lo > 1) {  // in_range(lo), !in_range(hi)
    const std::uint32_t mid = lo + (hi - lo) / 2;
    (in_range(mid) ? lo : hi) = mid;
  }
  return static_cast<std::int32_t>(lo);
}

// Whether every term wf * x_i, i in [from, from + len), is finite and below
// 2^40: no magnitude's bits above `limit` (largest_in_range). An OR of
// compares, not a running maximum: no loop-carried select, so it vectorises
// to one compare and one OR per lane (a quarter of the maximum's time at SSE2).
bool terms_in_range(const std::uint8_t* d, std::int32_t limit, std::size_t from, std::size_t len) {
  d += 4 * from;
  std::uint32_t over = 0;
  for (std::size_t i = 0; i < len; ++i) {
    std::uint32_t b;
    std::memcpy(&b, d + 4 * i, 4);
    over |= static_cast<std::uint32_t>(static_cast<std::int32_t>(b & 0x7FFFFFFFu) > limit);
  }
  return over == 0;
}

// Folds the update's coordinates [from, from + len) into the limbs. In range:
// the tally kernel (core/kernels/tally_kernels.h, SIMD where the CPU has it,
// bit-equal to the scalar add_term). Out of range (the tally is refused
// anyway): the terms are clamped and a NaN adds 0, so the limbs stay in bounds.
void add_span(const UpdateValues& v, std::size_t from, std::size_t len, std::int64_t* l0, std::int64_t* l1,
              std::int64_t* l2, kernels::MeanAddF32Fn mean_add) {
  if (v.in_range) {
    mean_add(v.data() + 4 * from, v.wf, len, l0 + from, l1 + from, l2 + from);
    return;
  }
  for (std::size_t i = from; i < from + len; ++i) {
    const double t = static_cast<double>(std::bit_cast<float>(v.bits(i))) * v.wf;
    add_term(t != t ? 0.0 : std::clamp(t, -kMaxTermValue, kMaxTermValue) * 0.5, l0[i], l1[i], l2[i]);
  }
}

// The limbs' value a0 + a1 2^-40 + a2 2^-80 as a double, a function of the
// value alone: carries normalised, the magnitude converted (no cancellation
// between a negative a0 and a positive fraction), the fraction rounded once.
double limbs_value(std::int64_t a0, std::int64_t a1, std::int64_t a2) {
  constexpr std::int64_t mask = (std::int64_t{1} << 40) - 1;
  auto normalise = [&] {
    a1 += a2 >> 40;  // arithmetic shift: floor division, so the remainder is in [0, 2^40)
    a2 &= mask;
    a0 += a1 >> 40;
    a1 &= mask;
  };
  normalise();
  const bool negative = a0 < 0;
  if (negative) {
    a0 = -a0;
    a1 = -a1;
    a2 = -a2;
    normalise();
  }
  // Multiplying by 2^-53 and 2^-80 is exact here (integers below 2^53, no
  // underflow): the ldexp it replaces, without a library call per coordinate.
  constexpr double k2m53 = 0x1p-53, k2m80 = 0x1p-80;
  const double frac = static_cast<double>((a1 << 13) | (a2 >> 27)) * k2m53 +
                      static_cast<double>(a2 & ((std::int64_t{1} << 27) - 1)) * k2m80;
  const double magnitude = static_cast<double>(a0) + frac;
  return negative ? -magnitude : magnitude;
}

// ---- varints ----------------------------------------------------------------

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint64_t varint(const char* what) {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) throw CodecError(std::string("tally: truncated ") + what);
      const std::uint8_t b = in_[pos_++];
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        if (shift == 63 && b > 1) break;
        return v;
      }
    }
    throw CodecError(std::string("tally: ") + what + " is not a valid varint");
  }
  std::uint8_t byte(const char* what) {
    if (pos_ >= in_.size()) throw CodecError(std::string("tally: truncated ") + what);
    return in_[pos_++];
  }
  std::span<const std::uint8_t> rest() const { return in_.subspan(pos_); }
  void skip(std::size_t n) { pos_ += n; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

constexpr std::uint8_t kVoteTag = 1, kMeanTag = 2;
enum class VoteLayout : std::uint8_t { dense_plus = 0, dense_both = 1, support = 2 };

}  // namespace

// ---- VoteTally ----------------------------------------------------------------

void VoteTally::add(const codec::PacketView& p) {
  if (p.dim != dim) throw CodecError("tally: sign packet of " + std::to_string(p.dim) + " coordinates, not " + std::to_string(dim));
  if (p.encoding == wire::Encoding::float32) throw CodecError("tally: a vote needs a sign packet, not float32");
  if (p.encoding == wire::Encoding::sparse_sign) {
    codec::SparseSigns own;  // unless it arrived decoded (PacketView::sparse)
    if (!p.sparse || p.sparse->dim != dim) own = codec::decode_sparse(p);
    const codec::SparseSigns& s = p.sparse && p.sparse->dim == dim ? *p.sparse : own;
    for (std::size_t j = 0; j < s.index.size(); ++j) ++(s.negative[j] ? minus : plus)[s.index[j]];
  } else if (p.encoding == wire::Encoding::dense_sign) {  // the payload is the negative bitmap, no abstention
    codec::validate(p, dim);
    const std::uint8_t* neg = p.payload.data();
    const std::uint32_t whole = dim / 8 * 8;
    for (std::uint32_t i = 0; i < whole; i += 8) {  // a byte at a time, constant shifts: it vectorises
      const std::uint32_t byte = neg[i >> 3];
      for (std::uint32_t j = 0; j < 8; ++j) {
        const std::uint32_t bit = (byte >> j) & 1u;
        minus[i + j] += bit;
        plus[i + j] += bit ^ 1u;
      }
    }
    for (std::uint32_t i = whole; i < dim; ++i) {
      const std::uint32_t bit = (neg[i >> 3] >> (i & 7)) & 1u;
      minus[i] += bit;
      plus[i] += bit ^ 1u;
    }
  } else {
    const codec::TernarySigns t = codec::decode_ternary(p);
    for (std::uint32_t i = 0; i < dim; ++i) {
      const std::uint32_t sup = (t.support[i >> 3] >> (i & 7)) & 1u;
      const std::uint32_t bit = (t.negative[i >> 3] >> (i & 7)) & 1u;  // inside the support
      minus[i] += bit;
      plus[i] += sup & (bit ^ 1u);
    }
  }
  abstaining_codings |= p.encoding != wire::Encoding::dense_sign;
  ++voters;
}

void VoteTally::merge(const VoteTally& o) {
  if (o.dim != dim) throw CodecError("tally: merging tallies of " + std::to_string(o.dim) + " and " + std::to_string(dim) + " coordinates");
  if (std::uint64_t{voters} + o.voters > 0xFFFFFFFFull) throw CodecError("tally: more than 2^32 voters");
  for (std::uint32_t i = 0; i < dim; ++i) {
    plus[i] += o.plus[i];
    minus[i] += o.minus[i];
  }
  voters += o.voters;
  abstaining_codings |= o.abstaining_codings;
}

VoteOutcome decide(const VoteTally& t, VoteKind kind, wire::TieRule tie_rule, std::uint64_t tie_seed) {
  // majority_vote_dense falls back to the sparse counting (with considered = dim)
  // beyond its kernel's 65,535 bit vectors; a non-dense packet takes two.
  const std::uint64_t copies = t.abstaining_codings ? 2 : 1;
  const bool dense_stats = kind == VoteKind::dense && copies * t.voters <= 65535;
  VoteOutcome out;
  out.signs = codec::TernarySigns::zeros(t.dim);
  out.stats.voters = t.voters;
  data::Rng coin(tie_seed);
  for (std::uint32_t i = 0; i < t.dim; ++i) {
    const std::uint64_t votes = std::uint64_t{t.plus[i]} + t.minus[i];
    const std::int64_t sum = static_cast<std::int64_t>(t.plus[i]) - static_cast<std::int64_t>(t.minus[i]);
    const std::uint64_t abs_sum = static_cast<std::uint64_t>(sum < 0 ? -sum : sum);
    if (dense_stats) {
      // Safaryan Alg. 2 line 6: every coordinate is considered, its margin over all M voters.
      ++out.stats.margin_hist[margin_bin(abs_sum, t.voters)];
      if (sum == 0) ++out.stats.ties;
      if (votes == 0) continue;
    } else {
      if (votes == 0) continue;  // S3GD-MV Sec. 2.2: outside the union of supports
      ++out.stats.considered;
      ++out.stats.margin_hist[margin_bin(abs_sum, votes)];
      if (sum == 0) ++out.stats.ties;
    }
    if (sum != 0) {
      set_bit(out.signs.support, i);
      if (sum < 0) set_bit(out.signs.negative, i);
    } else if (tie_rule == wire::TieRule::random) {  // a coin only where somebody voted
      set_bit(out.signs.support, i);
      if (coin.next() >> 63) set_bit(out.signs.negative, i);
    }
  }
  if (kind == VoteKind::dense) out.stats.considered = t.dim;
  out.stats.moved = out.signs.nnz();
  return out;
}

// ---- MeanTally ----------------------------------------------------------------

void MeanTally::add(const codec::PacketView& p, std::uint64_t w, double clip) {
  const std::uint64_t ws[1] = {w};
  add(std::span(&p, 1), ws, clip);
}

void MeanTally::add(std::span<const codec::PacketView> ps, std::span<const std::uint64_t> ws, double clip) {
  if (ps.size() != ws.size()) throw CodecError("tally: one weight per update");
  if (std::uint64_t{count} + ps.size() > kMaxTerms) throw CodecError("tally: more than 2^22 updates in one tally");
  std::vector<UpdateValues> values(ps.size());
  for (std::size_t k = 0; k < ps.size(); ++k) {
    const codec::PacketView& p = ps[k];
    if (p.dim != dim) throw CodecError("tally: update packet of " + std::to_string(p.dim) + " coordinates, not " + std::to_string(dim));
    if (ws[k] > 0xFFFFFFFFull) throw CodecError("tally: a weight above 2^32");
    UpdateValues& v = values[k];
    if (p.encoding == wire::Encoding::float32 && !(clip > 0.0)) {  // straight from the payload
      codec::validate(p, dim);
      v.bytes = p.payload.data();
      v.wf = static_cast<double>(ws[k]);
    } else {
      v.owned = internal::decode_values(p);  // as mean_aggregate reads it
      v.wf = static_cast<double>(ws[k]) * internal::clip_factor(v.owned, clip);  // --clip
    }
    v.limit = largest_in_range(v.wf);
  }
  // Coordinates a tile at a time, every update per tile: the tile's limbs
  // (3 x 8 B x 1024: half of L1) stay in cache instead of streaming all of them per update.
  constexpr std::size_t kTile = 1024;
  std::int64_t* l0 = limbs.data();
  std::int64_t* l1 = l0 + dim;
  std::int64_t* l2 = l1 + dim;
  const kernels::MeanAddF32Fn mean_add = kernels::best_tally_kernels().mean_add;
  // Each tile's range is checked just before it is added (its bytes are then
  // in cache: one pass over the updates instead of two). An update is in range
  // only if all its tiles are; one found out of range at tile `at` has its
  // earlier tiles taken out again -- exactly: those terms were in range, and
  // the split of -t is minus the split of t (round half to even is symmetric)
  // -- and is folded the clamped way from coordinate 0, so the limbs are those
  // of a whole-update check before any add.
  for (std::size_t at = 0; at < dim; at += kTile) {
    const std::size_t len = std::min<std::size_t>(kTile, dim - at);
    for (UpdateValues& v : values) {
      if (v.in_range && !terms_in_range(v.data(), v.limit, at, len)) {
        v.in_range = false;
        mean_add(v.data(), -v.wf, at, l0, l1, l2);
        add_span(v, 0, at, l0, l1, l2, mean_add);
      }
      add_span(v, at, len, l0, l1, l2, mean_add);
    }
  }
  for (std::size_t k = 0; k < ps.size(); ++k) {
    out_of_range |= !values[k].in_range;
    weight += ws[k];
    ++count;
  }
}

void MeanTally::merge(const MeanTally& o) {
  if (o.dim != dim) throw CodecError("tally: merging tallies of " + std::to_string(o.dim) + " and " + std::to_string(dim) + " coordinates");
  if (std::uint64_t{count} + o.count > kMaxTerms) throw CodecError("tally: more than 2^22 updates in one tally");
  for (std::size_t i = 0; i < limbs.size(); ++i) limbs[i] += o.limbs[i];
  count += o.count;
  weight += o.weight;
  out_of_range |= o.out_of_range;
}

std::vector<float> mean(const MeanTally& t) {
  if (t.out_of_range) return {};
  std::vector<float> m(t.dim, 0.0f);
  if (t.weight == 0) return m;
  const double w = static_cast<double>(t.weight);
  const std::int64_t* l = t.limbs.data();
  for (std::uint32_t i = 0; i < t.dim; ++i)
    m[i] = static_cast<float>(limbs_value(l[i], l[t.dim + i], l[2 * std::size_t{t.dim} + i]) / w);
  return m;
}

// ---- wire form ------------------------------------------------------------------

namespace {

void encode_vote(const VoteTally& t, std::vector<std::uint8_t>& out) {
  std::uint32_t largest = 0, support = 0;
  bool full = true;  // every coordinate has a vote from every voter: plus alone says it all
  for (std::uint32_t i = 0; i < t.dim; ++i) {
    largest = std::max({largest, t.plus[i], t.minus[i]});
    const std::uint64_t votes = std::uint64_t{t.plus[i]} + t.minus[i];
    support += votes > 0;
    full &= votes == t.voters;
  }
  const unsigned width = static_cast<unsigned>(std::bit_width(largest));
  // Bits of each layout: dense plus alone, dense (plus, minus), or the support's
  // indices as varint gaps (about 2 bytes each at most) and its (plus, minus).
  const std::uint64_t dense_both = std::uint64_t{t.dim} * 2 * width;
  const std::uint64_t sparse = std::uint64_t{support} * (2 * width + 16);
  const VoteLayout layout = full ? VoteLayout::dense_plus : sparse < dense_both ? VoteLayout::support : VoteLayout::dense_both;
  put_varint(out, t.voters);
  out.push_back(static_cast<std::uint8_t>((t.abstaining_codings ? 1 : 0) | (static_cast<unsigned>(layout) << 1)));
  out.push_back(static_cast<std::uint8_t>(width));
  if (layout == VoteLayout::support) {
    put_varint(out, support);
    std::uint32_t next = 0;
    for (std::uint32_t i = 0; i < t.dim; ++i) {
      if (t.plus[i] + t.minus[i] == 0) continue;
      put_varint(out, i - next);  // gap from the coordinate after the last one
      next = i + 1;
    }
  }
  codec::BitWriter bits(out);
  for (std::uint32_t i = 0; i < t.dim; ++i) {
    if (layout == VoteLayout::support && t.plus[i] + t.minus[i] == 0) continue;
    bits.put(t.plus[i], width);
    if (layout != VoteLayout::dense_plus) bits.put(t.minus[i], width);
  }
  bits.flush();
}

VoteTally decode_vote(ByteReader& in, std::uint32_t dim) {
  VoteTally t(dim);
  const std::uint64_t voters = in.varint("voter count");
  if (voters > 0xFFFFFFFFull) throw CodecError("tally: voter count above 2^32");
  t.voters = static_cast<std::uint32_t>(voters);
  const std::uint8_t flags = in.byte("flags");
  if (flags > 5) throw CodecError("tally: unknown vote layout");
  t.abstaining_codings = flags & 1;
  const auto layout = static_cast<VoteLayout>(flags >> 1);
  const unsigned width = in.byte("count width");
  if (width > 32) throw CodecError("tally: count width above 32 bits");
  std::vector<std::uint32_t> where;  // the coordinates the counts are for (support layout)
  if (layout == VoteLayout::support) {
    const std::uint64_t n = in.varint("support size");
    if (n > dim) throw CodecError("tally: support larger than the dimension");
    where.reserve(n);
    std::uint64_t next = 0;
    for (std::uint64_t j = 0; j < n; ++j) {
      const std::uint64_t i = next + in.varint("support index");
      if (i >= dim) throw CodecError("tally: support index beyond the dimension");
      where.push_back(static_cast<std::uint32_t>(i));
      next = i + 1;
    }
  }
  const std::uint64_t entries = layout == VoteLayout::support ? where.size() : dim;
  const std::uint64_t per = layout == VoteLayout::dense_plus ? 1 : 2;
  const std::uint64_t bytes = (entries * per * width + 7) / 8;
  if (in.rest().size() != bytes) throw CodecError("tally: count section has the wrong length");
  codec::BitReader bits(in.rest());
  for (std::uint64_t j = 0; j < entries; ++j) {
    const std::uint32_t i = layout == VoteLayout::support ? where[j] : static_cast<std::uint32_t>(j);
    const std::uint32_t p = bits.get(width);
    if (p > t.voters) throw CodecError("tally: more votes on a coordinate than voters");
    const std::uint32_t m = layout == VoteLayout::dense_plus ? t.voters - p : bits.get(width);
    if (std::uint64_t{p} + m > t.voters) throw CodecError("tally: more votes on a coordinate than voters");
    if (layout == VoteLayout::support && p + m == 0) throw CodecError("tally: a support coordinate without votes");
    t.plus[i] = p;
    t.minus[i] = m;
  }
  in.skip(bytes);
  return t;
}

void put_zigzag(std::vector<std::uint8_t>& out, std::int64_t v) {
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void encode_mean(const MeanTally& t, std::vector<std::uint8_t>& out) {
  put_varint(out, t.count);
  put_varint(out, t.weight);
  out.push_back(t.out_of_range ? 1 : 0);
  for (std::int64_t limb : t.limbs) put_zigzag(out, limb);
}

MeanTally decode_mean(ByteReader& in, std::uint32_t dim) {
  MeanTally t(dim);
  const std::uint64_t count = in.varint("update count");
  if (count > MeanTally::kMaxTerms) throw CodecError("tally: more than 2^22 updates");
  t.count = static_cast<std::uint32_t>(count);
  t.weight = in.varint("weight");
  if (t.weight > count * 0xFFFFFFFFull) throw CodecError("tally: weight above 2^32 per update");
  const std::uint8_t oor = in.byte("range flag");
  if (oor > 1) throw CodecError("tally: bad range flag");
  t.out_of_range = oor;
  // |limb| <= count * 2^40: what the sender could have added up (keeps merges from overflowing).
  const std::uint64_t bound = count << MeanTally::kLimbBits;
  for (std::int64_t& limb : t.limbs) {
    const std::uint64_t z = in.varint("limb");
    const std::uint64_t magnitude = (z >> 1) + (z & 1);  // |v| of the zigzag code z
    if (magnitude > bound) throw CodecError("tally: a sum beyond what its updates can add up to");
    limb = static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
  }
  return t;
}

}  // namespace

void merge(Tally& into, const Tally& from) {
  if (into.index() != from.index()) throw CodecError("tally: merging a vote tally with a mean tally");
  if (auto* v = std::get_if<VoteTally>(&into)) v->merge(std::get<VoteTally>(from));
  else std::get<MeanTally>(into).merge(std::get<MeanTally>(from));
}

std::uint32_t folded(const Tally& t) {
  if (const auto* v = std::get_if<VoteTally>(&t)) return v->voters;
  return std::get<MeanTally>(t).count;
}

std::vector<std::uint8_t> encode_tally(const Tally& t) {
  std::vector<std::uint8_t> out;
  if (const auto* v = std::get_if<VoteTally>(&t)) {
    out.push_back(kVoteTag);
    put_varint(out, v->dim);
    encode_vote(*v, out);
  } else {
    const auto& m = std::get<MeanTally>(t);
    out.push_back(kMeanTag);
    put_varint(out, m.dim);
    encode_mean(m, out);
  }
  return out;
}

Tally decode_tally(std::span<const std::uint8_t> bytes, std::uint32_t dim) {
  ByteReader in(bytes);
  const std::uint8_t tag = in.byte("kind");
  if (tag != kVoteTag && tag != kMeanTag) throw CodecError("tally: unknown kind " + std::to_string(tag));
  if (in.varint("dimension") != dim) throw CodecError("tally: wrong dimension (expected " + std::to_string(dim) + ")");
  Tally t = tag == kVoteTag ? Tally(decode_vote(in, dim)) : Tally(decode_mean(in, dim));
  if (!in.done()) throw CodecError("tally: trailing bytes");
  return t;
}

}  // namespace signfed::methods
