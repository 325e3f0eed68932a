// Private: the bit-sliced dense majority vote, written once as a template over
// a "vector word" type W and instantiated in each ISA file (vote_*.cc).
//
// Why bit-sliced: a word of W::kBytes*8 coordinates is processed at once. The
// per-coordinate count c (voters with the bit set) is held as binary digit
// planes: plane j is a word whose bit i is bit j of c[i]. Voters are added
// with a carry-save (Harley-Seal) adder tree, 16 at a time, so each voter word
// costs ~6 bitwise ops regardless of how many coordinates a word holds.
// Classification compares the planes against per-call integer constants, and
// counts are popcounts of the resulting masks — everything exact in integers.
//
// Required interface of W (all static, all inline):
//   using V;  kBytes;  zero(); ones();  and_, or_, xor_, andnot(a, b) = a & ~b
//   load(const uint8_t*) / store(uint8_t*, V)      unaligned, kBytes bytes
//   struct Popcount { void add(V); void flush(); std::uint64_t total(); }
//     add() may keep narrow (byte) partial sums: flush() at least every
//     kFlushEvery adds keeps them from overflowing.
//
// Everything here has internal linkage (unnamed namespace): each ISA file gets
// its own copy compiled with its own -m flags, so the linker can never merge an
// AVX2-compiled instance into code that runs on a CPU without AVX2.
#pragma once

#include <bit>
#include <cstring>

#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {
namespace {

static_assert(std::endian::native == std::endian::little,
              "bit i lives in byte i/8: word loads assume little-endian");

// m < 65536 voters: a count needs at most 16 binary digits.
constexpr int kMaxPlanes = 16;
// Byte-wide popcount partial sums: at most 8 per add, so 31 adds fit in 255.
constexpr int kFlushEvery = 31;
// How far ahead of the current word each voter's stream is prefetched.
constexpr std::size_t kPrefetchBytes = 512;

// Per-call constants: every threshold on c is derived once, in integers.
struct VotePlan {
  unsigned m = 0;
  int planes = 0;          // digits of c (0..m)
  unsigned neg_from = 0;   // c >= neg_from  <=>  2c > m
  bool even = false;       // ties possible
  unsigned m_plus_1 = 0;   // m - c == (m + 1) + ~c  (mod 2^digits)
  int nthr = 0;            // distinct thresholds on m'
  unsigned thr[kMarginBins] = {};
  int thr_of_bin[kMarginBins] = {};  // bin b -> index into thr, -1: G_b == 0

  explicit VotePlan(unsigned voters) : m(voters) {
    planes = std::bit_width(m);
    neg_from = m / 2 + 1;
    even = m % 2 == 0;
    m_plus_1 = m + 1;
    // margin >= b/B  <=>  |m - 2c| * B >= b * m  <=>  |m - 2c| >= t_b = ceil(b*m/B)
    //               <=>  m' <= (m - t_b) / 2.
    // G_b counts the complement, m' >= lo_b + 1; then #(bin >= b) = n - G_b.
    thr_of_bin[0] = -1;
    for (int b = 1; b < kMarginBins; ++b) {
      const unsigned t = (static_cast<unsigned>(b) * m + kMarginBins - 1) / kMarginBins;
      const unsigned k = (m - t) / 2 + 1;
      if (k > m / 2) {  // m' never reaches k
        thr_of_bin[b] = -1;
        continue;
      }
      int idx = 0;
      while (idx < nthr && thr[idx] != k) ++idx;
      if (idx == nthr) thr[nthr++] = k;
      thr_of_bin[b] = idx;
    }
  }
};

// Harley-Seal carry-save adder: a + b + c == l + 2h, bitwise.
template <class W>
inline void csa(typename W::V& h, typename W::V& l, typename W::V a, typename W::V b, typename W::V c) {
  const typename W::V u = W::xor_(a, b);
  h = W::or_(W::and_(a, b), W::and_(u, c));
  l = W::xor_(u, c);
}

// mask of c >= k over D digits (0 < k < 2^D), LSB first: r_j = "digits 0..j of
// c >= those of k". D is a compile-time constant so the loop unrolls; the
// branches on k's digits are per call and predict perfectly.
template <class W, int D>
inline typename W::V ge_const(const typename W::V* c, unsigned k) {
  typename W::V r = W::ones();
#pragma GCC unroll 16
  for (int j = 0; j < D; ++j) r = ((k >> j) & 1u) ? W::and_(c[j], r) : W::or_(c[j], r);
  return r;
}

// Counts set bits over voters 0..m-1 of one word into digit planes c[0..P)
// (P = bit_width(m), a compile-time constant). load(j) returns voter j's word.
template <class W, int P, class Load>
inline void count_planes(std::size_t m, Load load, typename W::V* c) {
  using V = typename W::V;
  V ones = W::zero(), twos = W::zero(), fours = W::zero(), eights = W::zero();
  constexpr int nhigh = P > 4 ? P - 4 : 0;
  V high[nhigh + 1];
#pragma GCC unroll 16
  for (int p = 0; p < nhigh; ++p) high[p] = W::zero();

  // Ripple-carry add of a one-digit word at a given weight (once per 16 voters).
  auto add_high = [&](V x) {
#pragma GCC unroll 16
    for (int p = 0; p < nhigh; ++p) {
      const V t = W::and_(high[p], x);
      high[p] = W::xor_(high[p], x);
      x = t;
    }
  };
  auto add_eights = [&](V x) {
    const V t = W::and_(eights, x);
    eights = W::xor_(eights, x);
    add_high(t);
  };
  auto add_fours = [&](V x) {
    const V t = W::and_(fours, x);
    fours = W::xor_(fours, x);
    add_eights(t);
  };
  auto add_twos = [&](V x) {
    const V t = W::and_(twos, x);
    twos = W::xor_(twos, x);
    add_fours(t);
  };

  std::size_t j = 0;
  V twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteens;
  for (; j + 16 <= m; j += 16) {
    csa<W>(twos_a, ones, ones, load(j + 0), load(j + 1));
    csa<W>(twos_b, ones, ones, load(j + 2), load(j + 3));
    csa<W>(fours_a, twos, twos, twos_a, twos_b);
    csa<W>(twos_a, ones, ones, load(j + 4), load(j + 5));
    csa<W>(twos_b, ones, ones, load(j + 6), load(j + 7));
    csa<W>(fours_b, twos, twos, twos_a, twos_b);
    csa<W>(eights_a, fours, fours, fours_a, fours_b);
    csa<W>(twos_a, ones, ones, load(j + 8), load(j + 9));
    csa<W>(twos_b, ones, ones, load(j + 10), load(j + 11));
    csa<W>(fours_a, twos, twos, twos_a, twos_b);
    csa<W>(twos_a, ones, ones, load(j + 12), load(j + 13));
    csa<W>(twos_b, ones, ones, load(j + 14), load(j + 15));
    csa<W>(fours_b, twos, twos, twos_a, twos_b);
    csa<W>(eights_b, fours, fours, fours_a, fours_b);
    csa<W>(sixteens, eights, eights, eights_a, eights_b);
    add_high(sixteens);
  }
  if (m - j >= 8) {
    csa<W>(twos_a, ones, ones, load(j + 0), load(j + 1));
    csa<W>(twos_b, ones, ones, load(j + 2), load(j + 3));
    csa<W>(fours_a, twos, twos, twos_a, twos_b);
    csa<W>(twos_a, ones, ones, load(j + 4), load(j + 5));
    csa<W>(twos_b, ones, ones, load(j + 6), load(j + 7));
    csa<W>(fours_b, twos, twos, twos_a, twos_b);
    csa<W>(eights_a, fours, fours, fours_a, fours_b);
    add_eights(eights_a);
    j += 8;
  }
  if (m - j >= 4) {
    csa<W>(twos_a, ones, ones, load(j + 0), load(j + 1));
    csa<W>(twos_b, ones, ones, load(j + 2), load(j + 3));
    csa<W>(fours_a, twos, twos, twos_a, twos_b);
    add_fours(fours_a);
    j += 4;
  }
  if (m - j >= 2) {
    csa<W>(twos_a, ones, ones, load(j + 0), load(j + 1));
    add_twos(twos_a);
    j += 2;
  }
  if (m - j == 1) {
    const V x = load(j);
    const V t = W::and_(ones, x);
    ones = W::xor_(ones, x);
    add_twos(t);
  }
  c[0] = ones;
  c[1] = twos;
  c[2] = fours;
  c[3] = eights;
#pragma GCC unroll 16
  for (int p = 0; p < nhigh; ++p) c[4 + p] = high[p];
}

// Popcount accumulators for one word type: negative, tie, and one per
// distinct margin threshold.
template <class W>
struct VoteTally {
  typename W::Popcount negative, tie, ge[kMarginBins];
  int pending = 0;

  void flush_if_due(int nthr) {
    if (++pending < kFlushEvery) return;
    pending = 0;
    negative.flush();
    tie.flush();
    for (int t = 0; t < nthr; ++t) ge[t].flush();
  }
};

// Classifies one word from its digit planes: writes the negative and tie masks
// and adds their popcounts (and the margin-threshold popcounts) to the tally.
// Coordinates with c == 0 set no mask bit (m >= 1), so zeroed pad bits count nothing.
// P = bit_width(m) digits of c; m' = min(c, m - c) <= m/2 has P - 1.
template <class W, int P>
inline void classify(const VotePlan& plan, const typename W::V* c, typename W::V& neg, typename W::V& tie,
                     VoteTally<W>& tally) {
  using V = typename W::V;
  constexpr int H = P - 1;
  neg = ge_const<W, P>(c, plan.neg_from);
  tie = plan.even ? W::andnot(ge_const<W, P>(c, plan.m / 2), neg) : W::zero();
  tally.negative.add(neg);
  tally.tie.add(tie);
  if constexpr (H > 0) {  // m == 1: m' is always 0, no thresholds
    if (plan.nthr == 0) return;
    // m' = neg ? m - c : c, as (c ^ neg) + (neg & (m + 1)), digit by digit.
    V mp[H];
    V carry = W::zero();
#pragma GCC unroll 16
    for (int j = 0; j < H; ++j) {
      if ((plan.m_plus_1 >> j) & 1u) {  // x ^ neg ^ carry with x = c ^ neg
        mp[j] = W::xor_(c[j], carry);
        carry = W::or_(W::andnot(neg, c[j]), W::and_(carry, c[j]));
      } else {
        const V x = W::xor_(c[j], neg);
        mp[j] = W::xor_(x, carry);
        carry = W::and_(x, carry);
      }
    }
    for (int t = 0; t < plan.nthr; ++t) tally.ge[t].add(ge_const<W, H>(mp, plan.thr[t]));
  }
}

// One word type over bytes [off, end) of every voter (end - off a multiple of
// W::kBytes, all bits valid). Returns the next offset.
template <class W, int P>
inline std::size_t vote_words(const VotePlan& plan, std::span<const std::uint8_t* const> voters, std::size_t off,
                              std::size_t end, std::uint8_t* negative, std::uint8_t* tie, VoteTally<W>& tally) {
  using V = typename W::V;
  const std::uint8_t* const* v = voters.data();
  const std::size_t m = voters.size();
  V c[kMaxPlanes];
  for (; off + W::kBytes <= end; off += W::kBytes) {
    // Many voters are more streams than the hardware prefetcher follows:
    // fetch each voter's line kPrefetchBytes ahead, once per 64-byte line.
    // (Prefetches never fault; the address is formed as an integer.)
    if (m > 16 && off % 64 == 0) {
      for (std::size_t j = 0; j < m; ++j)
        __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(v[j]) + off + kPrefetchBytes));
    }
    count_planes<W, P>(voters.size(), [&](std::size_t j) { return W::load(v[j] + off); }, c);
    V neg, ti;
    classify<W, P>(plan, c, neg, ti, tally);
    W::store(negative + off, neg);
    W::store(tie + off, ti);
    tally.flush_if_due(plan.nthr);
  }
  return off;
}

// 64-bit words: the portable variant, and the tail of every SIMD variant.
struct U64Word {
  using V = std::uint64_t;
  static constexpr std::size_t kBytes = 8;
  static V zero() { return 0; }
  static V ones() { return ~V{0}; }
  static V and_(V a, V b) { return a & b; }
  static V or_(V a, V b) { return a | b; }
  static V xor_(V a, V b) { return a ^ b; }
  static V andnot(V a, V b) { return a & ~b; }
  static V load(const std::uint8_t* p) {
    V x;
    std::memcpy(&x, p, sizeof x);
    return x;
  }
  static void store(std::uint8_t* p, V x) { std::memcpy(p, &x, sizeof x); }
  struct Popcount {
    std::uint64_t sum = 0;
    void add(V x) { sum += static_cast<std::uint64_t>(__builtin_popcountll(x)); }
    void flush() {}
    std::uint64_t total() const { return sum; }
  };
};

// The whole kernel for m with P = bit_width(m) digits: W words, then 64-bit
// words, then one masked partial word for the last <= 8 bytes (so no read or
// write ever leaves the spans).
template <class W, int P>
DenseVoteCounts vote_dense_digits(const VotePlan& plan, std::span<const std::uint8_t* const> voters, std::size_t n,
                                  std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  const std::size_t nbytes = packed_bytes(n);
  const std::size_t full = n / 8;  // bytes with no pad bits

  VoteTally<W> tw;
  std::size_t off = vote_words<W, P>(plan, voters, 0, full, negative.data(), tie.data(), tw);
  VoteTally<U64Word> tu;
  off = vote_words<U64Word, P>(plan, voters, off, full, negative.data(), tie.data(), tu);
  if (off < nbytes) {  // last 1..8 bytes, pad bits cleared on load
    const std::size_t rem = nbytes - off;
    const std::size_t valid = n - off * 8;  // 1..64
    const std::uint64_t mask = valid == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << valid) - 1;
    std::uint64_t c[kMaxPlanes];
    count_planes<U64Word, P>(
        voters.size(),
        [&](std::size_t j) {
          std::uint64_t x = 0;
          std::memcpy(&x, voters[j] + off, rem);
          return x & mask;
        },
        c);
    std::uint64_t neg, ti;
    classify<U64Word, P>(plan, c, neg, ti, tu);
    std::memcpy(negative.data() + off, &neg, rem);
    std::memcpy(tie.data() + off, &ti, rem);
  }

  tw.negative.flush();
  tw.tie.flush();
  for (int t = 0; t < plan.nthr; ++t) tw.ge[t].flush();
  DenseVoteCounts counts;
  counts.negative = tw.negative.total() + tu.negative.total();
  counts.ties = tw.tie.total() + tu.tie.total();
  counts.positive = n - counts.negative - counts.ties;
  // at_least[b] = #(bin >= b) = n - G_b; hist[b] = at_least[b] - at_least[b+1].
  std::uint64_t at_least[kMarginBins + 1];
  at_least[0] = n;
  at_least[kMarginBins] = 0;
  for (int b = 1; b < kMarginBins; ++b) {
    const int t = plan.thr_of_bin[b];
    at_least[b] = n - (t < 0 ? 0 : tw.ge[t].total() + tu.ge[t].total());
  }
  for (int b = 0; b < kMarginBins; ++b) counts.margin_hist[b] = at_least[b] - at_least[b + 1];
  return counts;
}

// Entry point: handles m == 0 and picks the instance for m's digit count.
template <class W>
DenseVoteCounts vote_dense_bitsliced(std::span<const std::uint8_t* const> voters, std::size_t n,
                                     std::span<std::uint8_t> negative, std::span<std::uint8_t> tie) {
  if (voters.empty()) {  // no voters: every coordinate is a tie with margin 0
    DenseVoteCounts counts;
    const std::size_t nbytes = packed_bytes(n);
    std::memset(negative.data(), 0, nbytes);
    std::memset(tie.data(), 0xff, nbytes);
    if (n % 8 != 0) tie[nbytes - 1] = static_cast<std::uint8_t>((1u << (n % 8)) - 1);
    counts.ties = n;
    counts.margin_hist[0] = n;
    return counts;
  }
  const VotePlan plan(static_cast<unsigned>(voters.size()));
  switch (plan.planes) {
#define SIGNFED_VOTE_CASE(P) \
  case P: return vote_dense_digits<W, P>(plan, voters, n, negative, tie);
    SIGNFED_VOTE_CASE(1) SIGNFED_VOTE_CASE(2) SIGNFED_VOTE_CASE(3) SIGNFED_VOTE_CASE(4)
    SIGNFED_VOTE_CASE(5) SIGNFED_VOTE_CASE(6) SIGNFED_VOTE_CASE(7) SIGNFED_VOTE_CASE(8)
    SIGNFED_VOTE_CASE(9) SIGNFED_VOTE_CASE(10) SIGNFED_VOTE_CASE(11) SIGNFED_VOTE_CASE(12)
    SIGNFED_VOTE_CASE(13) SIGNFED_VOTE_CASE(14) SIGNFED_VOTE_CASE(15)
    default: return vote_dense_digits<W, kMaxPlanes>(plan, voters, n, negative, tie);
#undef SIGNFED_VOTE_CASE
  }
}

}  // namespace
}  // namespace signfed::kernels
