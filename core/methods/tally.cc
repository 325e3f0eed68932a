#include "core/methods/tally.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "core/codec/internal/bit_stream.h"
#include "core/data/rng.h"
#include "core/methods/internal/update_values.h"

namespace signfed::methods {
namespace {

using codec::CodecError;

void set_bit(std::vector<std::uint8_t>& b, std::uint32_t i) { b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7)); }

int margin_bin(std::uint64_t abs_sum, std::uint64_t votes) {  // as the kernels: min(floor(|sum| / votes * B), B - 1)
  if (votes == 0) return 0;
  return static_cast<int>(std::min<std::uint64_t>(abs_sum * kMarginBins / votes, kMarginBins - 1));
}

// ---- 128-bit fixed point ---------------------------------------------------

Fixed128 plus_fixed(Fixed128 a, Fixed128 b) {  // two's complement, wrapping (never wraps within the kMaxTerm bound)
  Fixed128 r;
  r.lo = a.lo + b.lo;
  r.hi = static_cast<std::int64_t>(static_cast<std::uint64_t>(a.hi) + static_cast<std::uint64_t>(b.hi) +
                                   (r.lo < a.lo ? 1u : 0u));
  return r;
}

Fixed128 negate(Fixed128 a) {
  Fixed128 r;
  r.lo = ~a.lo + 1;
  r.hi = static_cast<std::int64_t>(~static_cast<std::uint64_t>(a.hi) + (r.lo == 0 ? 1u : 0u));
  return r;
}

// t * 2^64 exactly, truncated towards zero below 2^-64; |t| < 2^40 (the caller checked).
Fixed128 to_fixed(double t) {
  std::uint64_t bits;
  std::memcpy(&bits, &t, 8);
  const bool neg = bits >> 63;
  const int biased = static_cast<int>((bits >> 52) & 0x7FF);
  if (biased == 0) return {};  // zero or subnormal (< 2^-1022): far below 2^-64
  const std::uint64_t m = (bits & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1} << 52);
  const int shift = biased - 1075 + 64;  // value * 2^64 = m * 2^shift
  Fixed128 r;
  if (shift <= -64) return {};
  if (shift < 0) {
    r.lo = m >> -shift;
  } else if (shift < 64) {
    r.lo = m << shift;
    r.hi = static_cast<std::int64_t>(shift == 0 ? 0 : m >> (64 - shift));
  } else {
    r.hi = static_cast<std::int64_t>(m << (shift - 64));  // shift < 64 + 40 - 52: fits
  }
  return neg ? negate(r) : r;
}

double to_double(Fixed128 f) {
  // hi * 2^0 + lo * 2^-64; the sign lives in hi (two's complement).
  return static_cast<double>(f.hi) + std::ldexp(static_cast<double>(f.lo), -64);
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
    const codec::SparseSigns s = codec::decode_sparse(p);
    for (std::size_t j = 0; j < s.index.size(); ++j) ++(s.negative[j] ? minus : plus)[s.index[j]];
  } else {
    const codec::TernarySigns t = codec::decode_ternary(p);
    for (std::uint32_t i = 0; i < dim; ++i) {
      const int v = t.at(i);
      plus[i] += v > 0;
      minus[i] += v < 0;
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
  if (p.dim != dim) throw CodecError("tally: update packet of " + std::to_string(p.dim) + " coordinates, not " + std::to_string(dim));
  if (w > 0xFFFFFFFFull) throw CodecError("tally: a weight above 2^32");
  if (count >= kMaxTerms) throw CodecError("tally: more than 2^22 updates in one tally");
  const std::vector<float> x = internal::decode_values(p);  // as mean_aggregate reads it
  const double factor = internal::clip_factor(x, clip);  // --clip
  // Each term w * factor * x_i rounded once to double, then added exactly:
  // no sum depends on the order of the packets or on how they were grouped.
  const double wf = static_cast<double>(w) * factor;
  for (std::uint32_t i = 0; i < dim; ++i) {
    const double term = wf * static_cast<double>(x[i]);
    if (!(std::fabs(term) < kMaxTerm)) {
      out_of_range = true;
      continue;
    }
    sum[i] = plus_fixed(sum[i], to_fixed(term));
  }
  weight += w;
  ++count;
}

void MeanTally::merge(const MeanTally& o) {
  if (o.dim != dim) throw CodecError("tally: merging tallies of " + std::to_string(o.dim) + " and " + std::to_string(dim) + " coordinates");
  if (std::uint64_t{count} + o.count > kMaxTerms) throw CodecError("tally: more than 2^22 updates in one tally");
  for (std::uint32_t i = 0; i < dim; ++i) sum[i] = plus_fixed(sum[i], o.sum[i]);
  count += o.count;
  weight += o.weight;
  out_of_range |= o.out_of_range;
}

std::vector<float> mean(const MeanTally& t) {
  if (t.out_of_range) return {};
  std::vector<float> m(t.dim, 0.0f);
  if (t.weight == 0) return m;
  const double w = static_cast<double>(t.weight);
  for (std::uint32_t i = 0; i < t.dim; ++i) m[i] = static_cast<float>(to_double(t.sum[i]) / w);
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

void encode_mean(const MeanTally& t, std::vector<std::uint8_t>& out) {
  put_varint(out, t.count);
  put_varint(out, t.weight);
  out.push_back(t.out_of_range ? 1 : 0);
  for (const Fixed128& f : t.sum) {
    // zigzag over 128 bits: (v << 1) ^ (v >> 127), then LEB128.
    const std::uint64_t sign = static_cast<std::uint64_t>(f.hi >> 63);
    std::uint64_t lo = (f.lo << 1) ^ sign;
    std::uint64_t hi = ((static_cast<std::uint64_t>(f.hi) << 1) | (f.lo >> 63)) ^ sign;
    while (hi != 0 || lo >= 0x80) {
      out.push_back(static_cast<std::uint8_t>(lo | 0x80));
      lo = (lo >> 7) | (hi << 57);
      hi >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(lo));
  }
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
  // |sum| <= count * 2^40: what the sender could have added up (keeps merges from wrapping).
  const std::uint64_t bound = count << 40;
  for (std::uint32_t i = 0; i < dim; ++i) {
    std::uint64_t lo = 0, hi = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (shift >= 126) throw CodecError("tally: a sum is not a valid 128-bit varint");
      const std::uint64_t b = in.byte("sum");
      const std::uint64_t v = b & 0x7F;
      if (shift < 64) {
        lo |= v << shift;
        if (shift > 57) hi |= v >> (64 - shift);
      } else {
        hi |= v << (shift - 64);
      }
      if (!(b & 0x80)) break;
    }
    const std::uint64_t sign = -(lo & 1);
    Fixed128 f;
    f.lo = ((lo >> 1) | (hi << 63)) ^ sign;
    f.hi = static_cast<std::int64_t>((hi >> 1) ^ sign);
    const std::uint64_t mag_hi = static_cast<std::uint64_t>(f.hi < 0 ? -(f.hi + 1) : f.hi);
    if (mag_hi >= bound && !(count == 0 && f == Fixed128{})) throw CodecError("tally: a sum beyond what its updates can add up to");
    t.sum[i] = f;
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
