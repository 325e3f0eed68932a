#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/kernels/kernel_test_util.h"

using namespace signfed::kernels;
using namespace signfed::kernels::testing;

namespace {

// Reference written here: order by (|g| desc, index asc) with nth_element on
// float magnitudes, keep k, sort ascending.
std::vector<std::uint32_t> naive_topk(const std::vector<float>& g, std::size_t k) {
  k = std::min(k, g.size());
  std::vector<std::uint32_t> idx(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) idx[i] = static_cast<std::uint32_t>(i);
  auto before = [&](std::uint32_t a, std::uint32_t b) {
    const float fa = std::fabs(g[a]), fb = std::fabs(g[b]);
    return fa != fb ? fa > fb : a < b;
  };
  if (k > 0) std::nth_element(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k - 1), idx.end(), before);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Magnitudes from a small set: many ties at any threshold.
std::vector<float> tied_values(std::size_t n, std::mt19937_64& rng) {
  const float set[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, 1e-40f, -1e-40f, 3.0f, -3.0f, 0.5000001f};
  std::vector<float> g(n);
  for (auto& v : g) v = set[rng() % std::size(set)];
  return g;
}

std::vector<float> normal_values(std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  std::vector<float> g(n);
  for (auto& v : g) v = normal(rng);
  return g;
}

void check_topk(const std::vector<float>& g, std::size_t k, std::vector<std::uint32_t>& scratch) {
  const std::vector<std::uint32_t> want = naive_topk(g, k);
  for (const SignKernels* kern : all_sign_kernels()) {
    Guarded<std::uint32_t> out(want.size(), 0xdeadbeef, 0xabababab);
    const std::size_t got_n = kern->select_topk(g, k, out.span(), scratch);
    INFO("variant " << kern->name << " n=" << g.size() << " k=" << k);
    CHECK(got_n == want.size());
    const auto got = out.view();
    CHECK(std::equal(got.begin(), got.end(), want.begin()));
    CHECK(out.guard_intact());
  }
}

std::vector<std::size_t> ks_for(std::size_t n) {
  return {0, 1, 2, n / 100, n / 10, n / 3, n / 2, n > 0 ? n - 1 : 0, n, n + 1, n + 100};
}

}  // namespace

TEST_CASE("kernels.select_topk: every variant equals nth_element, every n in 0..600, tied and distinct values") {
  std::mt19937_64 rng(kSeed + 20);
  std::vector<std::uint32_t> scratch;  // reused: warm scratch must not matter
  for (std::size_t n = 0; n <= 600; ++n) {
    const std::vector<float> tied = tied_values(n, rng), normal = normal_values(n, rng);
    for (std::size_t k : ks_for(n)) {
      check_topk(tied, k, scratch);
      check_topk(normal, k, scratch);
    }
  }
}

TEST_CASE("kernels.select_topk: large n, 1% / 10% / 50%, ties, all-equal, special values") {
  std::mt19937_64 rng(kSeed + 21);
  std::vector<std::uint32_t> scratch(12345, 0xffffffffu);  // garbage scratch
  for (std::size_t n : kLargeSizes) {
    std::vector<float> all_equal(n, -0.25f);
    std::vector<float> specials = special_floats(n, rng);
    for (auto& v : specials)
      if (!std::isfinite(v)) v = 7.0f;  // top-k requires finite input
    for (const auto& g : {tied_values(n, rng), normal_values(n, rng), all_equal, specials})
      for (std::size_t k : ks_for(n)) check_topk(g, k, scratch);
  }
}

TEST_CASE("kernels.select_topk: magnitudes straddling every radix digit boundary") {
  std::mt19937_64 rng(kSeed + 22);
  std::vector<std::uint32_t> scratch;
  // Keys that differ only in the low digit, only in the middle digit, and only
  // in the top digit, interleaved with sign flips.
  std::vector<float> g;
  for (std::uint32_t base : {0x3f800000u, 0x00000001u, 0x7f700000u})
    for (std::uint32_t d = 0; d < 3000; d += 7) {
      const std::uint32_t bits = base + ((d * 2654435761u) % 4096u) + ((d % 5) << 12);
      g.push_back(std::bit_cast<float>(bits | ((d % 3 == 0) ? 0x80000000u : 0u)));
    }
  std::shuffle(g.begin(), g.end(), rng);
  for (std::size_t k = 0; k <= g.size(); k += 37) check_topk(g, k, scratch);
}
