// Majority vote and mean aggregation against naive per-coordinate references.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "coordinator/vote.h"
#include "data/rng.h"

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
      const auto out = coord::majority_vote_dense(voters.views(), n, TieRule::zero, 1, kernels::best_sign_kernels());
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
  const auto zero = coord::majority_vote_dense(voters.views(), n, TieRule::zero, 9, k);
  const auto coin = coord::majority_vote_dense(voters.views(), n, TieRule::random, 9, k);
  const auto again = coord::majority_vote_dense(voters.views(), n, TieRule::random, 9, k);
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
    const auto out = coord::majority_vote_sparse(views, n, TieRule::zero, 0);
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
    const auto coin = coord::majority_vote_sparse(views, n, TieRule::random, 1);
    CHECK(coin.signs.nnz() == considered);  // ties move, coordinates nobody voted on stay 0
  }
}

TEST_CASE("vote: mean aggregation of scaled signs and floats") {
  const std::uint32_t n = 3;
  auto a = codec::encode_float32(std::vector<float>{1.0f, 2.0f, 3.0f});
  auto b = codec::encode_float32(std::vector<float>{3.0f, 2.0f, -3.0f});
  std::vector<PacketView> v = {a.view(), b.view()};
  CHECK(coord::mean_aggregate(v, n) == std::vector<float>{2.0f, 2.0f, 0.0f});
  std::vector<std::uint8_t> bits = {0b010};
  codec::SignPacket s = codec::make_dense_packet(n, bits, 0.5f);
  std::vector<PacketView> w = {s.view()};
  CHECK(coord::mean_aggregate(w, n) == std::vector<float>{0.5f, -0.5f, 0.5f});
}

TEST_CASE("vote: agreement flags a voter that always disagrees") {
  const std::uint32_t n = 512;
  auto voters = random_voters(n, 5, 77);
  voters.bits.push_back(voters.bits[0]);
  for (auto& b : voters.bits.back()) b = static_cast<std::uint8_t>(~b);  // flipped signs
  const auto views = voters.views();
  const auto out = coord::majority_vote_dense(views, n, TieRule::zero, 0, kernels::best_sign_kernels());
  const auto agree = coord::agreement_with_vote(views, out.signs);
  REQUIRE(agree.size() == 6);
  CHECK(agree[5] < agree[0]);
  CHECK(agree[0] + agree[5] == doctest::Approx(1.0));
}
