// Every tally kernel variant held bit-equal to the scalar reference, and the
// reference held to the definition of the split (a0 + a1 2^-40 + a2 2^-80
// equals the term to within 2^-81).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/kernels/internal/tally_ukernels.h"
#include "core/kernels/tally_kernels.h"
#include "tests/kernels/kernel_test_util.h"

using namespace signfed::kernels;
using signfed::kernels::testing::kSeed;

namespace {

// n float32s of mixed magnitudes (2^-60 .. 2^20, both signs, some zeros and
// -0.0f), as bytes starting `offset` bytes into the buffer (unaligned loads).
std::vector<std::uint8_t> values(std::size_t n, std::size_t offset, std::mt19937_64& rng) {
  std::vector<std::uint8_t> bytes(offset + 4 * n + 1);
  std::uniform_int_distribution<int> exponent(-60, 20), kind(0, 15);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  for (std::size_t i = 0; i < n; ++i) {
    float x = std::ldexp(mantissa(rng), exponent(rng));
    const int k = kind(rng);
    if (k == 0) x = 0.0f;
    if (k == 1) x = -0.0f;
    if (k >= 8) x = -x;
    std::memcpy(bytes.data() + offset + 4 * i, &x, 4);
  }
  return bytes;
}

struct Limbs {
  std::vector<std::int64_t> l0, l1, l2;
  explicit Limbs(std::size_t n, std::mt19937_64& rng) : l0(n + 8), l1(n + 8), l2(n + 8) {
    std::uniform_int_distribution<std::int64_t> start(-(std::int64_t{1} << 45), std::int64_t{1} << 45);
    for (auto* l : {&l0, &l1, &l2})
      for (auto& v : *l) v = start(rng);  // non-zero: the kernels add, they do not overwrite
  }
  void add(const TallyKernels& k, const std::uint8_t* x, double wf, std::size_t n) {
    k.mean_add(x, wf, n, l0.data(), l1.data(), l2.data());
  }
  bool operator==(const Limbs&) const = default;
};

}  // namespace

TEST_CASE("kernels.tally: dispatch lists the reference first and picks the last supported variant") {
  const auto all = all_tally_kernels();
  REQUIRE(!all.empty());
  CHECK(all[0] == &scalar_tally_kernels());
  CHECK(&best_tally_kernels() == all.back());
  std::set<std::string> names;
  for (const TallyKernels* k : all) {
    REQUIRE(static_cast<bool>(k->mean_add));
    CHECK(names.insert(k->name).second);
  }
  MESSAGE("tally variants on this CPU: " << all.size() << "; best: " << std::string(best_tally_kernels().name));
}

TEST_CASE("kernels.tally: the scalar split adds up to the term (exact down to 2^-80)") {
  std::mt19937_64 rng(kSeed);
  const std::size_t n = 4096;
  const auto bytes = values(n, 0, rng);
  const double wf = 6.0e4 + 17.0;
  std::vector<std::int64_t> l0(n, 0), l1(n, 0), l2(n, 0);
  mean_add_f32__scalar(bytes.data(), wf, n, l0.data(), l1.data(), l2.data());
  for (std::size_t i = 0; i < n; ++i) {
    float x;
    std::memcpy(&x, bytes.data() + 4 * i, 4);
    const long double t = static_cast<long double>(static_cast<double>(x) * wf);
    const long double back = static_cast<long double>(l0[i]) + std::ldexp(static_cast<long double>(l1[i]), -40) +
                             std::ldexp(static_cast<long double>(l2[i]), -80);
    REQUIRE(std::fabs(back - t) <= std::ldexp(1.0L, -81));
    REQUIRE(std::llabs(l1[i]) <= (std::int64_t{1} << 39));
    REQUIRE(std::llabs(l2[i]) <= (std::int64_t{1} << 39));
  }
}

TEST_CASE("kernels.tally: every variant is bit-equal to the scalar reference") {
  std::mt19937_64 rng(kSeed + 1);
  const double weights[] = {1.0, 600.0, 0.37 * 1234.0, 1.0e6 + 0.5};
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 64; ++n) sizes.push_back(n);  // 0..4x the widest vector (8 doubles), and more
  sizes.push_back(65536 + 13);
  sizes.push_back(100003);
  for (const TallyKernels* k : all_tally_kernels()) {
    CAPTURE(std::string(k->name));
    for (std::size_t n : sizes) {
      CAPTURE(n);
      const std::size_t offset = n % 4;  // aligned and unaligned payloads
      const auto bytes = values(n, offset, rng);
      const double wf = weights[n % 4];
      std::mt19937_64 start(n);
      Limbs want(n, start);
      std::mt19937_64 start_again(n);
      Limbs got(n, start_again);
      want.add(scalar_tally_kernels(), bytes.data() + offset, wf, n);
      got.add(*k, bytes.data() + offset, wf, n);
      REQUIRE(got == want);  // includes the 8 guard limbs past n: nothing written there
    }
  }
}

TEST_CASE("kernels.tally: ties round to even in every variant (terms at exact halves of 2^-40 and 2^-80)") {
  // x * wf = k + 1/2 (and k * 2^-40 + 2^-41): the split must round these as the reference does.
  std::vector<float> x;
  for (int k = -20; k <= 20; ++k) {
    x.push_back(static_cast<float>(k) + 0.5f);
    x.push_back(std::ldexp(static_cast<float>(2 * k + 1), -41));
    x.push_back(std::ldexp(static_cast<float>(2 * k + 1), -81));
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(x.data());
  std::vector<std::int64_t> want(3 * x.size(), 0);
  mean_add_f32__scalar(bytes, 1.0, x.size(), want.data(), want.data() + x.size(), want.data() + 2 * x.size());
  CHECK(want[0] == -20);  // -19.5 rounds to -20 (even)
  for (const TallyKernels* k : all_tally_kernels()) {
    CAPTURE(std::string(k->name));
    std::vector<std::int64_t> got(3 * x.size(), 0);
    k->mean_add(bytes, 1.0, x.size(), got.data(), got.data() + x.size(), got.data() + 2 * x.size());
    CHECK(got == want);
  }
}
