#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/kernels/kernel_test_util.h"

using namespace signfed::kernels;
using namespace signfed::kernels::testing;

namespace {

// Each voter in its own exactly-sized allocation, so sanitizers catch any
// read past packed_bytes(n). Pad bits are random garbage (must be ignored).
struct Ballot {
  std::vector<std::vector<std::uint8_t>> voters;
  std::vector<const std::uint8_t*> ptrs;
};

Ballot make_ballot(std::size_t m, std::size_t n, std::mt19937_64& rng) {
  Ballot b;
  b.voters.assign(m, std::vector<std::uint8_t>(packed_bytes(n)));
  for (auto& v : b.voters)
    for (auto& byte : v) byte = static_cast<std::uint8_t>(rng());
  // Per-coordinate bias so counts span 0..m (pure coin flips would cluster
  // near m/2 and leave the outer histogram bins empty).
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double r = unit(rng);
    const double p = r < 0.15 ? 0.0 : r < 0.3 ? 1.0 : r < 0.45 ? 0.5 : unit(rng);
    for (std::size_t j = 0; j < m; ++j) {
      const auto bit = static_cast<std::uint8_t>(1u << (i % 8));
      if (unit(rng) < p)
        b.voters[j][i / 8] |= bit;
      else
        b.voters[j][i / 8] &= static_cast<std::uint8_t>(~bit);
    }
  }
  for (const auto& v : b.voters) b.ptrs.push_back(v.data());
  return b;
}

struct Expected {
  std::vector<std::uint8_t> negative, tie;
  DenseVoteCounts counts;
};

// The contract, read literally: per-coordinate count, margin in floating
// point (|m - 2c| / m is exact enough: a bin edge b/8 is representable).
Expected naive_vote(const Ballot& b, std::size_t n) {
  const std::size_t m = b.voters.size();
  Expected e;
  e.negative.assign(packed_bytes(n), 0);
  e.tie.assign(packed_bytes(n), 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t c = 0;
    for (const auto& v : b.voters) c += (v[i / 8] >> (i % 8)) & 1u;
    const auto bit = static_cast<std::uint8_t>(1u << (i % 8));
    int bin = 0;
    if (m == 0) {
      e.tie[i / 8] |= bit;
      ++e.counts.ties;
    } else {
      const double margin = std::abs(static_cast<double>(m) - 2.0 * static_cast<double>(c)) / static_cast<double>(m);
      bin = std::min(static_cast<int>(std::floor(margin * kMarginBins)), kMarginBins - 1);
      if (2 * c > m) {
        e.negative[i / 8] |= bit;
        ++e.counts.negative;
      } else if (2 * c == m) {
        e.tie[i / 8] |= bit;
        ++e.counts.ties;
      } else {
        ++e.counts.positive;
      }
    }
    ++e.counts.margin_hist[bin];
  }
  return e;
}

void check_vote(std::size_t m, std::size_t n, std::mt19937_64& rng) {
  const Ballot b = make_ballot(m, n, rng);
  const Expected e = naive_vote(b, n);
  for (const SignKernels* k : all_sign_kernels()) {
    Guarded<std::uint8_t> neg(packed_bytes(n), 0xff, 0xa5), tie(packed_bytes(n), 0xff, 0x5a);
    const DenseVoteCounts got = k->vote_dense(b.ptrs, n, neg.span(), tie.span());
    INFO("variant " << k->name << " m=" << m << " n=" << n);
    const auto gn = neg.view(), gt = tie.view();
    CHECK(std::equal(gn.begin(), gn.end(), e.negative.begin()));
    CHECK(std::equal(gt.begin(), gt.end(), e.tie.begin()));
    CHECK(neg.guard_intact());
    CHECK(tie.guard_intact());
    CHECK(got.positive == e.counts.positive);
    CHECK(got.negative == e.counts.negative);
    CHECK(got.ties == e.counts.ties);
    for (int bin = 0; bin < kMarginBins; ++bin) {
      INFO("bin " << bin);
      CHECK(got.margin_hist[bin] == e.counts.margin_hist[bin]);
    }
  }
}

}  // namespace

TEST_CASE("kernels.vote_dense: every variant equals the naive count, every n in 0..1100, selected m") {
  std::mt19937_64 rng(kSeed + 10);
  for (std::size_t m : {0, 1, 2, 3, 8, 10, 17, 33, 100})
    for (std::size_t n : dense_sizes()) check_vote(m, n, rng);
}

TEST_CASE("kernels.vote_dense: every m in 0..101 (odd and even), sizes around word edges") {
  std::mt19937_64 rng(kSeed + 11);
  for (std::size_t m = 0; m <= 101; ++m)
    for (std::size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 777, 1031}) check_vote(m, n, rng);
}

TEST_CASE("kernels.vote_dense: many voters exercise the high count digits") {
  std::mt19937_64 rng(kSeed + 12);
  for (std::size_t m : {255, 256, 257, 1000, 4097})
    for (std::size_t n : {300, 1100}) check_vote(m, n, rng);
}

TEST_CASE("kernels.vote_dense: large n") {
  std::mt19937_64 rng(kSeed + 13);
  for (std::size_t m : {2, 10, 64, 100, 101})
    for (std::size_t n : kLargeSizes) check_vote(m, n, rng);
}
