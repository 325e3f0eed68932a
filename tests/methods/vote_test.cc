// Majority vote and mean aggregation against naive per-coordinate references.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "core/methods/vote.h"
#include "core/data/rng.h"

using namespace signfed;
using codec::PacketView;
using wire::Encoding;
using wire::TieRule;

namespace {

struct Voters {
  std::uint32_t n;
  std::vector<std::vector<std::uint8_t>> bits;
  std::vector<PacketView> views() const {
    std::vector<PacketView> v;
    for (const auto& b : bits) v.push_back({Encoding::dense_sign, n, n, 0, 1.0f, b});
    return v;
  }
  bool neg(std::size_t m, std::uint32_t i) const { return (bits[m][i / 8] >> (i % 8)) & 1; }
};

Voters random_voters(std::uint32_t n, std::size_t m, std::uint64_t seed) {
  data::Rng r(seed);
  Voters v{n, {}};
  // A per-coordinate bias, so margins spread over the histogram.
  std::vector<double> p(n);
  for (auto& x : p) x = r.uniform();
  for (std::size_t k = 0; k < m; ++k) {
    std::vector<std::uint8_t> b(kernels::packed_bytes(n), 0);
    for (std::uint32_t i = 0; i < n; ++i)
      if (r.uniform() < p[i]) b[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    v.bits.push_back(std::move(b));
  }
  return v;
}

}  // namespace

TEST_CASE("vote: dense majority vote equals the naive sign of the sum") {
  data::Rng pick(7);
  for (std::uint32_t n : {0u, 1u, 63u, 64u, 65u, 1000u, 101770u}) {
    for (int trial = 0; trial < (n > 5000 ? 3 : 12); ++trial) {
      const std::size_t m = 1 + pick.below(101);  // 1..101, even included
      const auto voters = random_voters(n, m, n * 1000 + static_cast<std::uint64_t>(trial));
      const auto out = methods::majority_vote_dense(voters.views(), n, TieRule::zero, 1, kernels::best_sign_kernels());
      CAPTURE(n);
      CAPTURE(m);
      std::uint64_t ties = 0, moved = 0;
      std::uint64_t hist[kernels::kMarginBins] = {};
      bool all_equal = true;
      for (std::uint32_t i = 0; i < n; ++i) {
        int sum = 0;
        for (std::size_t k = 0; k < m; ++k) sum += voters.neg(k, i) ? -1 : 1;
        const int expect = (sum > 0) - (sum < 0);
        all_equal &= out.signs.at(i) == expect;
        ties += sum == 0;
        moved += sum != 0;
        ++hist[std::min<std::int64_t>(std::abs(sum) * kernels::kMarginBins / static_cast<std::int64_t>(m),
                                      kernels::kMarginBins - 1)];
      }
      CHECK(all_equal);
      CHECK(out.stats.ties == ties);
      CHECK(out.stats.moved == moved);
      CHECK(out.stats.voters == m);
      for (int b = 0; b < kernels::kMarginBins; ++b) CHECK(out.stats.margin_hist[b] == hist[b]);
      if (m % 2 == 1) CHECK(ties == 0);
    }
  }
}

TEST_CASE("vote: random tie rule moves every tied coordinate, reproducibly") {
  const std::uint32_t n = 4096;
  const auto voters = random_voters(n, 4, 3);
  const auto& k = kernels::best_sign_kernels();
  const auto zero = methods::majority_vote_dense(voters.views(), n, TieRule::zero, 9, k);
  const auto coin = methods::majority_vote_dense(voters.views(), n, TieRule::random, 9, k);
  const auto again = methods::majority_vote_dense(voters.views(), n, TieRule::random, 9, k);
  REQUIRE(zero.stats.ties > 100);
  CHECK(coin.signs.nnz() == n);  // 1-bit downlink stays dense
  CHECK(coin.signs.negative == again.signs.negative);
  std::uint64_t neg_ties = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (zero.signs.at(i) != 0) CHECK(coin.signs.at(i) == zero.signs.at(i));
    else neg_ties += coin.signs.at(i) < 0;
  }
  // A fair coin: within 5 sigma of half.
  const double t = static_cast<double>(zero.stats.ties);
  CHECK(std::fabs(static_cast<double>(neg_ties) - t / 2) < 5 * std::sqrt(t / 4));
}

TEST_CASE("vote: sparse vote over the union of supports") {
  const std::uint32_t n = 2000;
  data::Rng r(5);
  for (std::size_t m : {1u, 2u, 3u, 10u, 11u}) {
    std::vector<codec::SignPacket> packets;
    std::vector<std::vector<int>> dense(m, std::vector<int>(n, 0));
    for (std::size_t k = 0; k < m; ++k) {
      codec::SparseSigns s;
      s.dim = n;
      for (std::uint32_t i = 0; i < n; ++i)
        if (r.uniform() < 0.05) {
          s.index.push_back(i);
          s.negative.push_back(static_cast<std::uint8_t>(r.next() & 1));
          dense[k][i] = s.negative.back() ? -1 : 1;
        }
      packets.push_back(codec::encode_sparse(s));
    }
    std::vector<PacketView> views;
    for (const auto& p : packets) views.push_back(p.view());
    const auto out = methods::majority_vote_sparse(views, n, TieRule::zero, 0);
    std::uint64_t considered = 0, ties = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
      int sum = 0, votes = 0;
      for (std::size_t k = 0; k < m; ++k) {
        sum += dense[k][i];
        votes += dense[k][i] != 0;
      }
      CHECK(out.signs.at(i) == (sum > 0) - (sum < 0));
      considered += votes > 0;
      ties += votes > 0 && sum == 0;
    }
    CHECK(out.stats.considered == considered);
    CHECK(out.stats.ties == ties);
    const auto coin = methods::majority_vote_sparse(views, n, TieRule::random, 1);
    CHECK(coin.signs.nnz() == considered);  // ties move, coordinates nobody voted on stay 0
  }
}

TEST_CASE("vote: a sparse packet that arrives decoded (PacketView::sparse) votes as if walked, and is not walked again") {
  const std::uint32_t n = 3000;
  data::Rng r(9);
  std::vector<codec::SignPacket> packets;
  for (std::size_t k = 0; k < 7; ++k) {
    codec::SparseSigns s;
    s.dim = n;
    for (std::uint32_t i = 0; i < n; ++i)
      if (r.uniform() < 0.1) {
        s.index.push_back(i);
        s.negative.push_back(static_cast<std::uint8_t>(r.next() & 1));
      }
    packets.push_back(codec::encode_sparse(s));
  }
  std::vector<PacketView> plain;
  for (const auto& p : packets) plain.push_back(p.view());
  // As the coordinator admits them: validated by decoding, the decoded form kept.
  std::vector<codec::SignPacket> admitted;
  for (const auto& p : packets) {
    auto decoded = std::make_shared<codec::SparseSigns>();
    codec::validate(p.view(), n, decoded.get());
    CHECK(decoded->index == codec::decode_sparse(p.view()).index);
    codec::SignPacket kept = codec::SignPacket::copy_of(p.view());
    kept.sparse = decoded;
    admitted.push_back(kept);
  }
  std::vector<PacketView> predecoded;
  for (const auto& p : admitted) predecoded.push_back(p.view());
  REQUIRE(predecoded[0].sparse != nullptr);
  for (TieRule tie : {TieRule::zero, TieRule::random}) {
    const auto a = methods::majority_vote_sparse(plain, n, tie, 3);
    const auto b = methods::majority_vote_sparse(predecoded, n, tie, 3);
    CHECK(a.signs.support == b.signs.support);
    CHECK(a.signs.negative == b.signs.negative);
    CHECK(a.agreement == b.agreement);
    CHECK(a.stats.considered == b.stats.considered);
  }
  // The decoded form is what the vote reads (the payload is not walked again):
  // a packet whose decoded form says otherwise votes that way.
  auto flipped = std::make_shared<codec::SparseSigns>(*admitted[0].sparse);
  for (auto& neg : flipped->negative) neg ^= 1u;
  admitted[0].sparse = flipped;
  const auto one = methods::majority_vote_sparse(std::vector<PacketView>{admitted[0].view()}, n, TieRule::zero, 0);
  const auto walked = methods::majority_vote_sparse(std::vector<PacketView>{plain[0]}, n, TieRule::zero, 0);
  CHECK(one.signs.nnz() == walked.signs.nnz());
  CHECK(one.signs.negative != walked.signs.negative);
}

TEST_CASE("vote: mean aggregation of scaled signs and floats, weighted") {
  const std::uint32_t n = 3;
  auto a = codec::encode_float32(std::vector<float>{1.0f, 2.0f, 3.0f});
  auto b = codec::encode_float32(std::vector<float>{3.0f, 2.0f, -3.0f});
  std::vector<PacketView> v = {a.view(), b.view()};
  const std::vector<double> same = {1.0, 1.0};
  CHECK(methods::mean_aggregate(v, same, n) == std::vector<float>{2.0f, 2.0f, 0.0f});
  // McMahan et al.: weights n_k / sum n_k. 3:1 -> (3*a + b) / 4.
  const std::vector<double> by_samples = {3000.0, 1000.0};
  CHECK(methods::mean_aggregate(v, by_samples, n) == std::vector<float>{1.5f, 2.0f, 1.5f});
  std::vector<std::uint8_t> bits = {0b010};
  codec::SignPacket s = codec::make_dense_packet(n, bits, 0.5f);
  std::vector<PacketView> w = {s.view()};
  const std::vector<double> one = {1.0};
  CHECK(methods::mean_aggregate(w, one, n) == std::vector<float>{0.5f, -0.5f, 0.5f});
  // A ternary-coded scaled sign packet (efsign with an exact zero): the zero adds nothing.
  codec::SignPacket t = codec::encode_ternary_best(codec::ternary_signs(std::vector<float>{2.0f, 0.0f, -1.0f}));
  t.scale = 0.25f;
  std::vector<PacketView> tv = {t.view()};
  CHECK(methods::mean_aggregate(tv, one, n) == std::vector<float>{0.25f, 0.0f, -0.25f});
}

namespace {
std::vector<PacketView> views_of(const std::vector<codec::SignPacket>& ps) {
  std::vector<PacketView> v;
  for (const auto& p : ps) v.push_back(p.view());
  return v;
}
methods::AggregateOptions rule(const char* text, double clip = 0.0) {
  methods::AggregateOptions o;
  REQUIRE(methods::parse_aggregate_rule(text, &o) == "");
  o.clip = clip;
  return o;
}
}  // namespace

TEST_CASE("vote: coordinate-wise median, odd and even counts, ties, unweighted") {
  const std::uint32_t n = 3;
  std::vector<codec::SignPacket> ps = {codec::encode_float32(std::vector<float>{1.0f, 5.0f, 2.0f}),
                                       codec::encode_float32(std::vector<float>{3.0e38f, -1.0f, 2.0f}),
                                       codec::encode_float32(std::vector<float>{2.0f, 0.0f, 2.0f})};
  const std::vector<double> skewed = {1.0, 100.0, 1.0};  // median and trimmed read no weight
  CHECK(methods::mean_aggregate(views_of(ps), skewed, n, rule("median")) == std::vector<float>{2.0f, 0.0f, 2.0f});
  // Even count: the mean of the two middle values; 3e38 is an outer one.
  ps.push_back(codec::encode_float32(std::vector<float>{4.0f, 0.0f, -7.0f}));
  const std::vector<double> four = {1.0, 100.0, 1.0, 1.0};
  CHECK(methods::mean_aggregate(views_of(ps), four, n, rule("median")) == std::vector<float>{3.0f, 0.0f, 2.0f});
  // Scaled signs decode to scale * sign before the median: {+0.5, -0.5, +0.5} and {+2, +2, 0}.
  codec::SignPacket s = codec::make_dense_packet(n, {0b010}, 0.5f);
  codec::SignPacket t = codec::encode_ternary_best(codec::ternary_signs(std::vector<float>{1.0f, 1.0f, 0.0f}));
  t.scale = 2.0f;
  const std::vector<PacketView> st = {s.view(), t.view()};
  const std::vector<double> two = {1.0, 1.0};
  CHECK(methods::mean_aggregate(st, two, n, rule("median")) == std::vector<float>{1.25f, 0.75f, 0.25f});
}

TEST_CASE("vote: coordinate-wise trimmed mean drops floor(F*K) values from each end") {
  const std::uint32_t n = 2;
  std::vector<codec::SignPacket> ps;
  for (float v : {10.0f, 1.0f, 2.0f, 3.0f, -50.0f}) ps.push_back(codec::encode_float32(std::vector<float>{v, 1.0f}));
  const std::vector<double> w(5, 1.0);
  // K = 5: trimmed:0.2 drops 1 from each end -> mean of {1, 2, 3}; ties (all 1) stay 1.
  CHECK(methods::mean_aggregate(views_of(ps), w, n, rule("trimmed:0.2")) == std::vector<float>{2.0f, 1.0f});
  // trimmed:0.1: floor(0.5) = 0 dropped -> the plain unweighted mean (-34 / 5).
  CHECK(methods::mean_aggregate(views_of(ps), w, n, rule("trimmed:0.1")) == std::vector<float>{-6.8f, 1.0f});
  // trimmed:0.45: floor(2.25) = 2 from each end -> the median.
  CHECK(methods::mean_aggregate(views_of(ps), w, n, rule("trimmed:0.45")) == std::vector<float>{2.0f, 1.0f});
  // K = 4, trimmed:0.25: one from each end of {-50, 1, 2, 10} -> 1.5.
  ps.erase(ps.begin() + 3);
  const std::vector<double> w4(4, 1.0);
  CHECK(methods::mean_aggregate(views_of(ps), w4, n, rule("trimmed:0.25")) == std::vector<float>{1.5f, 1.0f});
}

TEST_CASE("vote: clipping scales each update to L2 norm at most C before any rule") {
  const std::uint32_t n = 2;
  const std::vector<codec::SignPacket> ps = {codec::encode_float32(std::vector<float>{3.0f, 4.0f}),    // norm 5
                                             codec::encode_float32(std::vector<float>{0.6f, -0.8f})};  // norm 1
  const std::vector<double> w = {1.0, 3.0};
  // C = 2.5: the first halves to (1.5, 2), the second is short enough; weighted (1*a + 3*b) / 4.
  const std::vector<float> m = methods::mean_aggregate(views_of(ps), w, n, rule("mean", 2.5));
  CHECK(m[0] == doctest::Approx((1.5 + 3 * 0.6) / 4).epsilon(1e-7));
  CHECK(m[1] == doctest::Approx((2.0 - 3 * 0.8) / 4).epsilon(1e-7));
  CHECK(methods::mean_aggregate(views_of(ps), w, n, rule("mean", 0.0)) == methods::mean_aggregate(views_of(ps), w, n));
  // A scaled sign packet's norm is scale * sqrt(nnz): 4 * sqrt(2) clipped to 1 -> each coordinate 1/sqrt(2).
  const codec::SignPacket s = codec::make_dense_packet(n, {0b00}, 4.0f);
  const std::vector<PacketView> sv = {s.view()};
  const std::vector<double> one = {1.0};
  const std::vector<float> c = methods::mean_aggregate(sv, one, n, rule("median", 1.0));
  CHECK(c[0] == doctest::Approx(1.0 / std::sqrt(2.0)).epsilon(1e-7));
  CHECK(c[1] == c[0]);
}

TEST_CASE("vote: --aggregate names round trip and bad ones say what to write") {
  for (const char* name : {"mean", "median", "trimmed:0.1", "trimmed:0.25"}) {
    methods::AggregateOptions o;
    REQUIRE(methods::parse_aggregate_rule(name, &o) == "");
    CHECK(methods::aggregate_rule_name(o) == name);
  }
  for (const char* bad : {"trimmed:0.5", "trimmed:0", "trimmed:", "trimmed:0.1x", "mode", "trimmed:-0.1"}) {
    CAPTURE(bad);
    methods::AggregateOptions o;
    CHECK(methods::parse_aggregate_rule(bad, &o).find("0 < F < 0.5") != std::string::npos);
  }
}

namespace {

// M random ternary voters with per-coordinate biases and abstention rates;
// coordinates >= n - 3 are abstained on by everybody.
std::vector<std::vector<int>> random_ternary(std::uint32_t n, std::size_t m, std::uint64_t seed) {
  data::Rng r(seed);
  std::vector<double> p(n), z(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    p[i] = r.uniform();
    z[i] = i + 3 >= n ? 1.0 : 0.6 * r.uniform();
  }
  std::vector<std::vector<int>> v(m, std::vector<int>(n, 0));
  for (std::size_t k = 0; k < m; ++k)
    for (std::uint32_t i = 0; i < n; ++i)
      v[k][i] = r.uniform() < z[i] ? 0 : (r.uniform() < p[i] ? -1 : 1);
  return v;
}

codec::SignPacket packet_of(const std::vector<int>& v) {
  std::vector<float> x(v.begin(), v.end());
  return codec::encode_ternary_best(codec::ternary_signs(x));
}

}  // namespace

TEST_CASE("vote: dense vote with abstentions is sign(P - N) over the voters that voted") {
  // sign(0) = 0 (Safaryan footnote 2): an exact zero is no vote, never a +1.
  for (std::uint32_t n : {1u, 9u, 64u, 1000u}) {
    for (std::size_t m : {1u, 2u, 5u, 10u, 33u}) {
      const auto v = random_ternary(n, m, n * 131 + m);
      std::vector<codec::SignPacket> packets;
      for (const auto& x : v) packets.push_back(packet_of(x));
      std::vector<PacketView> views;
      for (const auto& p : packets) views.push_back(p.view());
      CAPTURE(n);
      CAPTURE(m);
      const auto& k = kernels::best_sign_kernels();
      const auto out = methods::majority_vote_dense(views, n, TieRule::zero, 4, k);
      const auto coin = methods::majority_vote_dense(views, n, TieRule::random, 4, k);
      std::uint64_t ties = 0;
      bool equal = true, coin_ok = true;
      for (std::uint32_t i = 0; i < n; ++i) {
        int sum = 0, votes = 0;
        for (std::size_t j = 0; j < m; ++j) sum += v[j][i], votes += v[j][i] != 0;
        equal &= out.signs.at(i) == (sum > 0) - (sum < 0);
        ties += sum == 0;
        // Under the coin rule a tie moves only where somebody voted.
        coin_ok &= sum != 0 ? coin.signs.at(i) == out.signs.at(i) : (coin.signs.at(i) != 0) == (votes > 0);
      }
      CHECK(equal);
      CHECK(coin_ok);
      CHECK(out.stats.ties == ties);
      CHECK(out.stats.voters == m);
    }
  }
}

TEST_CASE("vote: the dense vote takes any M the CLI accepts (70,000 voters)") {
  // The bit-sliced kernel counts 16 bit planes; beyond them integer counters.
  const std::uint32_t n = 70;
  for (bool abstain : {false, true}) {
    const std::size_t m = 70000;
    data::Rng r(abstain ? 11 : 12);
    std::vector<codec::SignPacket> packets;
    std::vector<int> sum(n, 0);
    for (std::size_t j = 0; j < m; ++j) {
      std::vector<int> x(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        // Coordinate i leans negative with probability i / n; with abstention
        // every other coordinate is mostly 0.
        x[i] = abstain && i % 2 && r.uniform() < 0.9 ? 0 : (r.uniform() * n < i ? -1 : 1);
        sum[i] += x[i];
      }
      if (!abstain) {  // pure dense packets, exactly as signsgd clients send them without zeros
        std::vector<float> f(x.begin(), x.end());
        std::vector<std::uint8_t> bits(kernels::packed_bytes(n), 0);
        kernels::scalar_sign_kernels().pack_signs(f, bits);
        packets.push_back(codec::make_dense_packet(n, bits, 1.0f));
      } else {
        packets.push_back(packet_of(x));
      }
    }
    std::vector<PacketView> views;
    for (const auto& p : packets) views.push_back(p.view());
    const auto out = methods::majority_vote_dense(views, n, TieRule::zero, 0, kernels::best_sign_kernels());
    CAPTURE(abstain);
    CHECK(out.stats.voters == m);
    bool equal = true;
    for (std::uint32_t i = 0; i < n; ++i) equal &= out.signs.at(i) == (sum[i] > 0) - (sum[i] < 0);
    CHECK(equal);
    CHECK(out.signs.at(0) == 1);       // p(-) = 0: a wrap of the 16-bit count would lose this
    CHECK(out.signs.at(n - 2) == -1);
  }
}

TEST_CASE("vote: agreement flags a voter that always disagrees") {
  const std::uint32_t n = 512;
  auto voters = random_voters(n, 5, 77);
  voters.bits.push_back(voters.bits[0]);
  for (auto& b : voters.bits.back()) b = static_cast<std::uint8_t>(~b);  // flipped signs
  const auto views = voters.views();
  const auto out = methods::majority_vote_dense(views, n, TieRule::zero, 0, kernels::best_sign_kernels());
  const auto agree = methods::agreement_with_vote(views, out.signs);
  REQUIRE(agree.size() == 6);
  CHECK(agree[5] < agree[0]);
  CHECK(agree[0] + agree[5] == doctest::Approx(1.0));
}

TEST_CASE("vote: each vote's own agreement equals the per-coordinate definition, for every sign encoding") {
  // Voters in {-1, 0, +1}^n coded as dense_sign (no zeros), runs_sign, sparse_sign
  // and ternary; sizes around the 64-bit word the agreement counts in.
  for (std::uint32_t n : {1u, 7u, 63u, 64u, 65u, 200u, 1031u}) {
    data::Rng r(n);
    std::vector<std::vector<int>> x;
    std::vector<codec::SignPacket> packets;
    for (int k = 0; k < 7; ++k) {
      std::vector<float> g(n);
      const double zero_p = k == 0 ? 0.0 : k == 1 ? 0.95 : 0.3;  // dense; sparse; runs or ternary
      for (auto& v : g) v = r.uniform() < zero_p ? 0.0f : (r.uniform() < 0.4 ? -1.0f : 1.0f);
      x.emplace_back();
      for (float v : g) x.back().push_back((v > 0) - (v < 0));
      packets.push_back(codec::encode_ternary_best(codec::ternary_signs(g)));
    }
    // A ternary packet by hand (encode_ternary_best picks it only when it is smallest).
    {
      const codec::TernarySigns t = codec::ternary_signs(std::vector<float>(n, -2.0f));
      codec::SignPacket p;
      p.encoding = Encoding::ternary, p.dim = n, p.nnz = n, p.payload = t.support;
      p.payload.insert(p.payload.end(), t.negative.begin(), t.negative.end());
      packets.push_back(p);
      x.emplace_back(n, -1);
    }
    std::vector<PacketView> views;
    for (const auto& p : packets) views.push_back(p.view());
    auto expected = [&](const codec::TernarySigns& vote) {
      std::vector<double> a;
      for (const auto& v : x) {
        int cast = 0, matched = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
          if (v[i] == 0 || vote.at(i) == 0) continue;
          ++cast;
          matched += v[i] == vote.at(i);
        }
        a.push_back(cast ? static_cast<double>(matched) / cast : 1.0);
      }
      return a;
    };
    CAPTURE(n);
    for (TieRule tie : {TieRule::zero, TieRule::random}) {
      const auto dense = methods::majority_vote_dense(views, n, tie, 3, kernels::best_sign_kernels());
      CHECK(dense.agreement == expected(dense.signs));
      CHECK(methods::agreement_with_vote(views, dense.signs) == expected(dense.signs));
      const auto sparse = methods::majority_vote_sparse(views, n, tie, 3);
      CHECK(sparse.agreement == expected(sparse.signs));
      // Sparse packets that arrive decoded (PacketView::sparse) give the same.
      std::vector<codec::SignPacket> kept = packets;
      for (auto& p : kept)
        if (p.encoding == Encoding::sparse_sign) p.sparse = std::make_shared<codec::SparseSigns>(codec::decode_sparse(p.view()));
      std::vector<PacketView> kept_views;
      for (const auto& p : kept) kept_views.push_back(p.view());
      CHECK(methods::agreement_with_vote(kept_views, sparse.signs) == expected(sparse.signs));
    }
  }
}
