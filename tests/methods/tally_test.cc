// Partial tallies: the vote and the mean formed from tallies of any grouping
// of the packets, in any order, through their wire form, equal the flat
// aggregate bit for bit (what makes a relay tree exact).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "core/kernels/internal/tally_term.h"
#include "core/methods/tally.h"
#include "core/methods/vote.h"

using namespace signfed;
using codec::SignPacket;
using methods::MeanTally;
using methods::Tally;
using methods::VoteTally;
using wire::TieRule;

namespace {

// Sign packets in the codings clients send: dense_sign (no zeros), the best
// exact coding of a vector with zeros, and sparse_sign (top-k style).
std::vector<SignPacket> sign_packets(std::uint32_t n, std::size_t m, std::uint64_t seed, bool dense_only) {
  data::Rng r(seed);
  std::vector<double> bias(n);
  for (auto& b : bias) b = r.uniform();
  std::vector<SignPacket> out;
  for (std::size_t k = 0; k < m; ++k) {
    std::vector<float> g(n);
    for (std::uint32_t i = 0; i < n; ++i) g[i] = r.uniform() < bias[i] ? -1.0f : 1.0f;
    const int kind = dense_only ? 0 : static_cast<int>(k % 3);
    if (kind == 1)
      for (std::uint32_t i = 0; i < n; ++i)
        if (r.uniform() < 0.3) g[i] = 0.0f;
    if (kind == 2) {
      std::vector<std::uint32_t> idx;
      for (std::uint32_t i = 0; i < n; ++i)
        if (r.uniform() < 0.1) idx.push_back(i);
      out.push_back(codec::encode_sparse(n, idx, g));
    } else {
      out.push_back(codec::encode_ternary_best(codec::ternary_signs(g)));
    }
  }
  return out;
}

std::vector<codec::PacketView> views_of(const std::vector<SignPacket>& ps) {
  std::vector<codec::PacketView> v;
  for (const auto& p : ps) v.push_back(p.view());
  return v;
}

// The packets split into `groups` tallies (packet k to a pseudo-random group),
// each sent through its wire form, merged in a shuffled order.
template <class T, class Fold>
T grouped(std::uint32_t n, std::size_t count, std::size_t groups, std::uint64_t seed, Fold fold) {
  data::Rng r(seed);
  std::vector<T> parts(groups, T(n));
  for (std::size_t k = 0; k < count; ++k) fold(parts[r.below(groups)], k);
  std::vector<std::size_t> order(groups);
  for (std::size_t g = 0; g < groups; ++g) order[g] = g;
  for (std::size_t g = groups; g > 1; --g) std::swap(order[g - 1], order[r.below(g)]);
  T all(n);
  for (std::size_t g : order) {
    const Tally back = methods::decode_tally(methods::encode_tally(Tally(parts[g])), n);
    all.merge(std::get<T>(back));
  }
  return all;
}

void check_same_vote(const methods::VoteOutcome& flat, const methods::VoteOutcome& tallied) {
  CHECK(tallied.signs.support == flat.signs.support);
  CHECK(tallied.signs.negative == flat.signs.negative);
  CHECK(tallied.stats.voters == flat.stats.voters);
  CHECK(tallied.stats.considered == flat.stats.considered);
  CHECK(tallied.stats.moved == flat.stats.moved);
  CHECK(tallied.stats.ties == flat.stats.ties);
  for (int b = 0; b < methods::kMarginBins; ++b) CHECK(tallied.stats.margin_hist[b] == flat.stats.margin_hist[b]);
}

}  // namespace

TEST_CASE("tally: a vote from grouped tallies equals the flat dense and sparse votes") {
  for (std::uint32_t n : {1u, 65u, 1000u, 101770u}) {
    for (bool dense_only : {true, false}) {
      const std::size_t m = n > 5000 ? 12 : 31;
      const auto packets = sign_packets(n, m, n + (dense_only ? 1 : 2), dense_only);
      const auto views = views_of(packets);
      const VoteTally all = grouped<VoteTally>(n, m, 4, n, [&](VoteTally& t, std::size_t k) { t.add(views[k]); });
      VoteTally flat_tally(n);
      for (const auto& v : views) flat_tally.add(v);
      CHECK(all == flat_tally);
      for (TieRule rule : {TieRule::zero, TieRule::random}) {
        CAPTURE(n);
        CAPTURE(dense_only);
        const auto dense = methods::majority_vote_dense(views, n, rule, 99, kernels::best_sign_kernels());
        check_same_vote(dense, methods::decide(all, methods::VoteKind::dense, rule, 99));
        const auto sparse = methods::majority_vote_sparse(views, n, rule, 99);
        check_same_vote(sparse, methods::decide(all, methods::VoteKind::sparse, rule, 99));
      }
    }
  }
}

TEST_CASE("tally: the mean from grouped tallies equals the flat weighted mean bit for bit") {
  const std::uint32_t n = 5000;
  data::Rng r(5);
  std::vector<SignPacket> packets;
  std::vector<double> weights;
  for (int k = 0; k < 40; ++k) {
    std::vector<float> x(n);
    // Magnitudes over many binades, so a plain double sum would depend on the order.
    for (auto& v : x) v = static_cast<float>((r.uniform() - 0.5) * std::ldexp(1.0, static_cast<int>(r.below(40)) - 30));
    packets.push_back(k % 5 == 4 ? codec::encode_ternary_best(codec::ternary_signs(x)) : codec::encode_float32(x));
    if (k % 5 == 4) packets.back().scale = 0.25f;
    weights.push_back(static_cast<double>(1 + r.below(6000)));
  }
  const auto views = views_of(packets);
  for (double clip : {0.0, 3.0}) {
    methods::AggregateOptions opt;
    opt.clip = clip;
    const std::vector<float> flat = methods::mean_aggregate(views, weights, n, opt);
    for (std::size_t groups : {1u, 3u, 7u}) {
      const MeanTally t = grouped<MeanTally>(n, views.size(), groups, groups, [&](MeanTally& g, std::size_t k) {
        g.add(views[k], static_cast<std::uint64_t>(weights[k]), clip);
      });
      CHECK(methods::mean(t) == flat);
    }
  }
}

TEST_CASE("tally: the mean of float32 updates is the correctly rounded weighted mean") {
  const std::uint32_t n = 64;
  // Values whose double sum in packet order loses the small ones: 2^40-ish and 2^-20-ish.
  std::vector<float> big(n, 1.0e9f), tiny(n, 1.0e-6f), neg(n, -1.0e9f);
  const std::vector<SignPacket> packets = {codec::encode_float32(big), codec::encode_float32(tiny),
                                           codec::encode_float32(neg)};
  const auto views = views_of(packets);
  const std::vector<double> weights = {1.0, 1.0, 1.0};
  const std::vector<float> m = methods::mean_aggregate(views, weights, n);
  // (1e9 + 1e-6 - 1e9) / 3 exactly is 1e-6 / 3 (as float32); a left-to-right double sum gives 0.
  for (float v : m) CHECK(v == static_cast<float>(static_cast<double>(1.0e-6f) / 3.0));
}

TEST_CASE("tally: the wire form is compact and picks the smaller layout") {
  const std::uint32_t n = 101770;
  // 20 dense voters: 5 bits of + votes per coordinate (no abstention), not 2 x int32.
  {
    const auto packets = sign_packets(n, 20, 3, true);
    VoteTally t(n);
    for (const auto& p : packets) t.add(p.view());
    const auto bytes = methods::encode_tally(Tally(t));
    CHECK(bytes.size() <= (n * 5 + 7) / 8 + 16);
    CHECK(std::get<VoteTally>(methods::decode_tally(bytes, n)) == t);
  }
  // 3 sparse voters over 1 % each: the support layout, a few bytes per voted coordinate.
  {
    data::Rng r(4);
    VoteTally t(n);
    std::size_t nnz = 0;
    for (int k = 0; k < 3; ++k) {
      std::vector<std::uint32_t> idx;
      std::vector<float> g(n, 1.0f);
      for (std::uint32_t i = 0; i < n; ++i)
        if (r.below(100) == 0) idx.push_back(i);
      nnz += idx.size();
      t.add(codec::encode_sparse(n, idx, g).view());
    }
    const auto bytes = methods::encode_tally(Tally(t));
    CHECK(bytes.size() <= nnz * 3 + 16);
    CHECK(std::get<VoteTally>(methods::decode_tally(bytes, n)) == t);
  }
}

TEST_CASE("tally: malformed tallies are refused with a reason") {
  const std::uint32_t n = 100;
  VoteTally t(n);
  for (const auto& p : sign_packets(n, 3, 8, false)) t.add(p.view());
  const auto good = methods::encode_tally(Tally(t));
  CHECK_NOTHROW(methods::decode_tally(good, n));
  CHECK_THROWS_AS(methods::decode_tally(good, n + 1), codec::CodecError);  // wrong dimension
  auto truncated = good;
  truncated.pop_back();
  CHECK_THROWS_AS(methods::decode_tally(truncated, n), codec::CodecError);
  auto trailing = good;
  trailing.push_back(0);
  CHECK_THROWS_AS(methods::decode_tally(trailing, n), codec::CodecError);
  // A count above the voters: voters 3 -> 1 on the wire (byte after tag and dim).
  auto inflated = good;
  inflated[2] = 1;
  CHECK_THROWS_AS(methods::decode_tally(inflated, n), codec::CodecError);
  std::vector<std::uint8_t> unknown = good;
  unknown[0] = 9;
  CHECK_THROWS_AS(methods::decode_tally(unknown, n), codec::CodecError);

  MeanTally m(n);
  std::vector<float> x(n, 2.0f);
  m.add(codec::encode_float32(x).view(), 3, 0.0);
  auto mean_bytes = methods::encode_tally(Tally(m));
  CHECK(std::get<MeanTally>(methods::decode_tally(mean_bytes, n)) == m);
  // A limb beyond what one update of at most 2^40 can reach (2^41 + 1, zigzag-coded).
  std::vector<std::uint8_t> forged(mean_bytes.begin(), mean_bytes.begin() + 6);  // tag, dim, count, weight, flag
  for (std::uint32_t i = 0; i < 3 * n; ++i) {
    for (int b = 0; b < 6; ++b) forged.push_back(0x82);
    forged.push_back(0x01);
  }
  CHECK_THROWS_AS(methods::decode_tally(forged, n), codec::CodecError);
}

TEST_CASE("tally: a term beyond 2^40 marks the tally out of range instead of wrapping") {
  MeanTally m(2);
  std::vector<float> x = {1.0e12f, 1.0f};
  m.add(codec::encode_float32(x).view(), 2, 0.0);
  CHECK(m.out_of_range);
  CHECK(methods::mean(m).empty());
}

TEST_CASE("tally: an update out of range only in a late tile is folded clamped from its first coordinate") {
  // The range is checked a tile (1,024 coordinates) at a time as the tiles are
  // added; the limbs must still be those of the whole-update rule: every term
  // of an out-of-range update clamped to 2^40 and halved, none of it added plainly.
  const std::uint32_t n = 5000;
  std::vector<float> a(n), b(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(std::sin(0.37 * i)) * 1e-3f;
    b[i] = static_cast<float>(std::cos(0.11 * i)) * 0.5f;
  }
  b[4000] = 1.0e12f;  // times weight 2: beyond 2^40
  MeanTally both(n);
  const std::vector<codec::SignPacket> ps = {codec::encode_float32(a), codec::encode_float32(b)};
  const std::vector<codec::PacketView> views = {ps[0].view(), ps[1].view()};
  const std::vector<std::uint64_t> weights = {3, 2};
  both.add(views, weights, 0.0);
  CHECK(both.out_of_range);
  std::vector<std::int64_t> want(3 * std::size_t{n}, 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    using signfed::kernels::tally_detail::add_term;
    const double ta = static_cast<double>(a[i]) * 3.0;
    const double tb = std::clamp(static_cast<double>(b[i]) * 2.0, -MeanTally::kMaxTerm, MeanTally::kMaxTerm) * 0.5;
    add_term(ta, want[i], want[n + i], want[2 * std::size_t{n} + i]);
    add_term(tb, want[i], want[n + i], want[2 * std::size_t{n} + i]);
  }
  CHECK(both.limbs == want);
  MeanTally one_by_one(n);
  one_by_one.add(views[1], 2, 0.0);
  one_by_one.add(views[0], 3, 0.0);
  CHECK(one_by_one == both);
}

TEST_CASE("tally: the fixed point keeps every float32 down to 2^-57 exactly and rounds only below 2^-80") {
  // One update, weight 1: its mean is itself wherever its 24 bits lie above 2^-80.
  const std::vector<float> x = {0.0f, 1.0f, -1.5f, 3.0e-7f, -1.0e-12f, std::ldexp(1.0f, -60), 123456.78f,
                                -std::ldexp(1.0f, -70), 1.0995e12f, std::ldexp(1.0f + std::ldexp(1.0f, -23), -57),
                                std::ldexp(1.0f, -90)};
  MeanTally t(static_cast<std::uint32_t>(x.size()));
  t.add(codec::encode_float32(x).view(), 1, 0.0);
  const std::vector<float> m = methods::mean(t);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) CHECK(m[i] == x[i]);
  CHECK(m.back() == 0.0f);  // 2^-90: below the last limb's 2^-80
}

TEST_CASE("tally: merge() on the variant adds tallies of one kind, folded() counts their updates, kinds never mix") {
  const std::uint32_t n = 40;
  const std::vector<SignPacket> ps = sign_packets(n, 5, 11, false);
  methods::Tally all = methods::VoteTally(n), left = methods::VoteTally(n), right = methods::VoteTally(n);
  for (std::size_t k = 0; k < ps.size(); ++k) {
    std::get<methods::VoteTally>(all).add(ps[k].view());
    std::get<methods::VoteTally>(k < 2 ? left : right).add(ps[k].view());
  }
  methods::merge(left, right);
  CHECK(std::get<methods::VoteTally>(left) == std::get<methods::VoteTally>(all));
  CHECK(methods::folded(left) == 5);
  methods::Tally mean = methods::MeanTally(n);
  std::get<methods::MeanTally>(mean).add(ps[0].view(), 3, 0.0);
  CHECK(methods::folded(mean) == 1);
  CHECK_THROWS_AS(methods::merge(left, mean), codec::CodecError);
  CHECK_THROWS_AS(methods::merge(mean, left), codec::CodecError);
  CHECK(methods::folded(left) == 5);
}

TEST_CASE("tally: the range limit is exact, one float32 step either side of 2^40 / w") {
  // The range check compares bit patterns against the largest magnitude in
  // range, found once per update: x with |x| w just below 2^40 is summed, the
  // next float32 up is not (and neither is inf or NaN).
  for (const std::uint64_t w : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{7}, std::uint64_t{1000003},
                                std::uint64_t{4294967295}}) {
    CAPTURE(w);
    float x = static_cast<float>(MeanTally::kMaxTerm / static_cast<double>(w));
    while (static_cast<double>(x) * static_cast<double>(w) >= MeanTally::kMaxTerm) x = std::nextafter(x, 0.0f);
    while (static_cast<double>(std::nextafter(x, INFINITY)) * static_cast<double>(w) < MeanTally::kMaxTerm)
      x = std::nextafter(x, INFINITY);
    for (const float sign : {1.0f, -1.0f}) {
      MeanTally in(3);
      in.add(codec::encode_float32(std::vector<float>{0.5f, sign * x, 1.0f}).view(), w, 0.0);
      CHECK_FALSE(in.out_of_range);
      MeanTally over(3);
      over.add(codec::encode_float32(std::vector<float>{0.5f, sign * std::nextafter(x, INFINITY), 1.0f}).view(), w, 0.0);
      CHECK(over.out_of_range);
    }
  }
  MeanTally inf(2);
  std::vector<float> v = {1.0f, INFINITY};
  const codec::SignPacket p = codec::encode_float32(v);
  CHECK_THROWS_AS(inf.add(p.view(), 1, 0.0), codec::CodecError);  // not a float32 update: refused before the range
}
