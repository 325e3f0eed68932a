#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/kernels/kernel_test_util.h"

using namespace signfed::kernels;
using namespace signfed::kernels::testing;

namespace {

std::vector<std::uint8_t> naive_pack(const std::vector<float>& x) {
  std::vector<std::uint8_t> bits(packed_bytes(x.size()), 0);
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::signbit(x[i])) bits[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  return bits;
}

void check_pack(std::size_t n, std::mt19937_64& rng) {
  const std::vector<float> x = special_floats(n, rng);
  const std::vector<std::uint8_t> expected = naive_pack(x);
  for (const SignKernels* k : all_sign_kernels()) {
    Guarded<std::uint8_t> out(packed_bytes(n), 0xff, 0xa5);  // 0xff: pad bits must be cleared
    k->pack_signs(x, out.span());
    const auto got = out.view();
    bool equal = std::equal(got.begin(), got.end(), expected.begin());
    INFO("variant " << k->name << " n=" << n);
    CHECK(equal);
    CHECK(out.guard_intact());
  }
}

void check_unpack(std::size_t n, std::mt19937_64& rng) {
  std::vector<std::uint8_t> bits(packed_bytes(n));
  for (auto& b : bits) b = static_cast<std::uint8_t>(rng());  // pad bits are garbage: must be ignored
  for (const SignKernels* k : all_sign_kernels()) {
    Guarded<float> out(n, 0.0f, 12345.0f);
    k->unpack_signs(bits, out.span());
    const auto got = out.view();
    bool equal = true;
    for (std::size_t i = 0; i < n; ++i) {
      const float want = ((bits[i / 8] >> (i % 8)) & 1u) ? -1.0f : 1.0f;
      equal = equal && std::bit_cast<std::uint32_t>(got[i]) == std::bit_cast<std::uint32_t>(want);
    }
    INFO("variant " << k->name << " n=" << n);
    CHECK(equal);
    CHECK(out.guard_intact());
  }
}

}  // namespace

TEST_CASE("kernels.pack_signs: every variant equals signbit, every n in 0..1100 and large n") {
  std::mt19937_64 rng(kSeed);
  for (std::size_t n : dense_sizes()) check_pack(n, rng);
  for (std::size_t n : kLargeSizes) check_pack(n, rng);
}

TEST_CASE("kernels.pack_signs: -0.0f packs as set, +0.0f as clear, denormals and infinities by sign") {
  const std::vector<float> x = {-0.0f, 0.0f, 1e-45f, -1e-45f, INFINITY, -INFINITY, 1.0f, -1.0f, -0.0f};
  for (const SignKernels* k : all_sign_kernels()) {
    std::uint8_t out[2] = {0xff, 0xff};
    k->pack_signs(x, std::span<std::uint8_t>(out, 2));
    CHECK(out[0] == 0b10101001);
    CHECK(out[1] == 0b00000001);  // pad bits zero
  }
}

TEST_CASE("kernels.unpack_signs: every variant gives -1 for set bits, +1 for clear, every n in 0..1100 and large n") {
  std::mt19937_64 rng(kSeed + 1);
  for (std::size_t n : dense_sizes()) check_unpack(n, rng);
  for (std::size_t n : kLargeSizes) check_unpack(n, rng);
}

TEST_CASE("kernels.pack then unpack round-trips the signs") {
  std::mt19937_64 rng(kSeed + 2);
  const std::vector<float> x = special_floats(4099, rng);
  for (const SignKernels* k : all_sign_kernels()) {
    std::vector<std::uint8_t> bits(packed_bytes(x.size()));
    std::vector<float> back(x.size());
    k->pack_signs(x, bits);
    k->unpack_signs(bits, back);
    bool same = true;
    for (std::size_t i = 0; i < x.size(); ++i) same = same && std::signbit(x[i]) == std::signbit(back[i]);
    INFO("variant " << k->name);
    CHECK(same);
  }
}
