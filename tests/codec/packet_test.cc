// Packet encode/decode round trips, sizes and rejection of malformed input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>
#include <vector>

#include "core/codec/internal/bit_stream.h"
#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"
#include "tests/support/random_floats.h"

using namespace signfed;
using codec::CodecError;
using codec::Encoding;
using test::uniform_floats;

namespace {

std::vector<std::uint32_t> random_support(std::uint32_t n, std::size_t k, std::uint64_t seed) {
  data::Rng r(seed);
  std::vector<std::uint32_t> idx;
  std::size_t need = k;
  for (std::uint32_t i = 0; i < n && need > 0; ++i)
    if (r.below(n - i) < need) {
      idx.push_back(i);
      --need;
    }
  return idx;
}

codec::TernarySigns random_ternary(std::uint32_t n, double p_nonzero, std::uint64_t seed) {
  data::Rng r(seed);
  auto t = codec::TernarySigns::zeros(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (r.uniform() >= p_nonzero) continue;
    t.support[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    if (r.next() & 1) t.negative[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  }
  return t;
}

}  // namespace

TEST_CASE("codec: sparse packet round trip keeps indices and signs") {
  for (std::uint32_t n : {1u, 7u, 64u, 1000u, 101770u}) {
    for (double gamma : {0.001, 0.01, 0.1, 0.5, 1.0}) {
      const auto g = uniform_floats(n, n);
      const auto idx = random_support(n, static_cast<std::size_t>(std::max(1.0, gamma * n)), n + 7);
      const auto p = codec::encode_sparse(n, idx, g);
      CHECK(p.nnz == idx.size());
      const auto s = codec::decode_sparse(p.view());
      REQUIRE(s.index == idx);
      for (std::size_t j = 0; j < idx.size(); ++j) CHECK(s.negative[j] == (std::signbit(g[idx[j]]) ? 1 : 0));
    }
  }
}

TEST_CASE("codec: sparse packets with gaps longer than a 64-bit window decode entry for entry") {
  // Gaps of thousands (a layer outside the top-k) between dense stretches: the
  // long codes go through the bit reader, the codes after them back through
  // the fast windows; both must give the same indices, and an index out of
  // range after a long code is still refused.
  const std::uint32_t n = 101770;
  std::vector<std::uint32_t> idx;
  for (std::uint32_t start = 0; start < n; start += 9000)
    for (std::uint32_t i = start + (start / 9000) * 97; i < std::min(n, start + 1500); i += 1 + (i % 7)) idx.push_back(i);
  const auto g = uniform_floats(n, 3);
  const auto p = codec::encode_sparse(n, idx, g);
  REQUIRE(p.rice_k < 8);  // so a 9,000 gap takes more than 57 bits
  codec::validate(p.view(), n);
  const auto s = codec::decode_sparse(p.view());
  REQUIRE(s.index == idx);
  for (std::size_t j = 0; j < idx.size(); ++j) CHECK(s.negative[j] == (std::signbit(g[idx[j]]) ? 1 : 0));
  codec::SparseSigns kept;
  codec::validate(p.view(), n, &kept);
  CHECK(kept.index == idx);
  // The same codes against a smaller dim: the last entries fall outside it.
  codec::PacketView smaller = p.view();
  smaller.dim = idx.back();
  CHECK_THROWS_WITH_AS(codec::validate(smaller, idx.back()), doctest::Contains("out of range"), CodecError);
}

TEST_CASE("codec: sparse size sits between the entropy floor and 3 bits above the paper's formula") {
  const std::uint32_t n = 101770;
  for (double gamma : {0.001, 0.01, 0.05, 0.1}) {
    const std::size_t k = static_cast<std::size_t>(gamma * n);
    const auto idx = random_support(n, k, 99);
    const auto g = uniform_floats(n, 5);
    const auto p = codec::encode_sparse(n, idx, g);
    const double bits = 8.0 * p.payload.size();
    CAPTURE(gamma);
    CHECK(bits >= codec::entropy_sparse_bits(n, k) - 8);
    // Rice coding of uniform gaps costs ~1.5 bits per entry over the paper's K + K log2(N/K).
    CHECK(bits <= codec::paper_sparse_bits(n, k) + 3.0 * k);
  }
}

TEST_CASE("codec: ternary best coding picks the smallest and round trips") {
  for (std::uint32_t n : {0u, 1u, 63u, 64u, 65u, 1000u, 101770u}) {
    for (double p : {0.0, 0.01, 0.3, 0.9, 1.0}) {
      const auto t = random_ternary(n, p, n * 31 + static_cast<std::uint64_t>(p * 100));
      const auto pk = codec::encode_ternary_best(t);
      if (t.nnz() == n) CHECK(pk.encoding == Encoding::dense_sign);
      CHECK(pk.payload.size() <= 2 * kernels::packed_bytes(n));
      const auto back = codec::decode_ternary(pk.view());
      CHECK(back.support == t.support);
      CHECK(back.negative == t.negative);
    }
  }
}

TEST_CASE("codec: float32 packet round trip and non-finite rejection") {
  const auto x = uniform_floats(1000, 3);
  const auto p = codec::encode_float32(x);
  CHECK(codec::decode_float32(p.view()) == x);
  auto bad = x;
  bad[17] = std::nanf("");
  CHECK_THROWS_WITH_AS(codec::validate(codec::encode_float32(bad).view(), 1000), doctest::Contains("coordinate 17"),
                       CodecError);
  auto inf = x;  // the other non-finite values, at the last coordinate (the branch-free check's tail)
  for (float v : {INFINITY, -INFINITY}) {
    inf[999] = v;
    CHECK_THROWS_WITH_AS(codec::validate(codec::encode_float32(inf).view(), 1000), doctest::Contains("coordinate 999"),
                         CodecError);
  }
}

TEST_CASE("codec: decoders reject malformed packets") {
  const std::uint32_t n = 1000;
  const auto g = uniform_floats(n, 11);
  const auto idx = random_support(n, 100, 12);
  const auto good = codec::encode_sparse(n, idx, g);
  codec::validate(good.view(), n);

  SUBCASE("wrong dimension") { CHECK_THROWS_AS(codec::validate(good.view(), n + 1), CodecError); }
  SUBCASE("truncated payload") {
    auto v = good.view();
    for (std::size_t cut = 0; cut < v.payload.size(); cut += 7) {
      v.payload = std::span(good.payload).first(cut);
      CHECK_THROWS_AS(codec::validate(v, n), CodecError);
    }
  }
  SUBCASE("trailing bytes") {
    auto longer = good;
    longer.payload.push_back(0);
    CHECK_THROWS_WITH_AS(codec::validate(longer.view(), n), doctest::Contains("trailing"), CodecError);
  }
  SUBCASE("nnz above dim or Rice parameter out of range") {
    auto v = good.view();
    v.nnz = n + 1;
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
    v = good.view();
    v.rice_k = 40;
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
  }
  SUBCASE("index out of range") {
    std::vector<std::uint8_t> bytes;
    codec::BitWriter w(bytes);
    w.put_rice(10, 3);
    w.put_rice(n, 3);  // second index = 11 + n: out of range
    w.put(0, 2);
    w.flush();
    codec::PacketView v{Encoding::sparse_sign, n, 2, 3, 1.0f, bytes};
    CHECK_THROWS_WITH_AS(codec::validate(v, n), doctest::Contains("out of range"), CodecError);
  }
  SUBCASE("huge unary run is bounded") {
    std::vector<std::uint8_t> ones(4096, 0xFF);
    codec::PacketView v{Encoding::sparse_sign, n, 1, 0, 1.0f, ones};
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
  }
  SUBCASE("dense packet of the wrong size or with pad bits set") {
    std::vector<std::uint8_t> bits(kernels::packed_bytes(n) - 1, 0);
    codec::PacketView v{Encoding::dense_sign, n, n, 0, 1.0f, bits};
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
    std::vector<std::uint8_t> padded(kernels::packed_bytes(1001), 0);
    padded.back() = 0x80;  // bit 1007 > 1000
    codec::PacketView w{Encoding::dense_sign, 1001, 1001, 0, 1.0f, padded};
    CHECK_THROWS_WITH_AS(codec::validate(w, 1001), doctest::Contains("pad"), CodecError);
  }
  SUBCASE("ternary with a sign outside the support or a wrong nnz") {
    auto t = random_ternary(n, 0.5, 4);
    auto pk = codec::encode_ternary_best(t);
    if (pk.encoding != Encoding::ternary) {
      pk.encoding = Encoding::ternary;
      pk.nnz = static_cast<std::uint32_t>(t.nnz());
      pk.payload = t.support;
      pk.payload.insert(pk.payload.end(), t.negative.begin(), t.negative.end());
    }
    codec::validate(pk.view(), n);
    auto wrong_nnz = pk;
    wrong_nnz.nnz += 1;
    CHECK_THROWS_AS(codec::validate(wrong_nnz.view(), n), CodecError);
    auto outside = pk;
    for (std::uint32_t i = 0; i < n; ++i)
      if (!((t.support[i / 8] >> (i % 8)) & 1)) {
        outside.payload[kernels::packed_bytes(n) + i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
        break;
      }
    CHECK_THROWS_WITH_AS(codec::validate(outside.view(), n), doctest::Contains("outside"), CodecError);
  }
  SUBCASE("non-finite scale") {
    auto v = good.view();
    v.scale = INFINITY;
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
  }
  SUBCASE("unknown encoding") {
    auto v = good.view();
    v.encoding = static_cast<Encoding>(9);
    CHECK_THROWS_AS(codec::validate(v, n), CodecError);
  }
}

TEST_CASE("codec: random garbage never crashes the sparse decoder") {
  data::Rng r(2024);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::uint8_t> bytes(r.below(64));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(r.next());
    codec::PacketView v{Encoding::sparse_sign, static_cast<std::uint32_t>(r.below(5000)),
                        static_cast<std::uint32_t>(r.below(200)), static_cast<std::uint8_t>(r.below(40)), 1.0f, bytes};
    try {
      const auto s = codec::decode_sparse(v);
      for (std::size_t j = 1; j < s.index.size(); ++j) REQUIRE(s.index[j] > s.index[j - 1]);
      for (auto i : s.index) REQUIRE(i < v.dim);
    } catch (const CodecError&) {
      ++rejected;
    }
  }
  CHECK(rejected > 1000);
}

namespace {

// Zeros in runs, as dead ReLU units and constant pixels make them: runs of
// nonzeros and zeros with geometric lengths of the given means.
codec::TernarySigns runs_ternary(std::uint32_t n, double mean_moving, double mean_zero, std::uint64_t seed) {
  data::Rng r(seed);
  auto t = codec::TernarySigns::zeros(n);
  bool moving = r.next() & 1;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (r.uniform() < 1.0 / (moving ? mean_moving : mean_zero)) moving = !moving;
    if (!moving) continue;
    t.support[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    if (r.next() & 1) t.negative[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  }
  return t;
}

}  // namespace

TEST_CASE("codec: runs_sign round trips every support shape and beats 1 bit when zeros come in runs") {
  for (std::uint32_t n : {1u, 2u, 9u, 64u, 65u, 1000u, 101770u}) {
    for (double p : {0.0, 0.001, 0.5, 0.999, 1.0}) {
      const auto t = random_ternary(n, p, n * 7 + static_cast<std::uint64_t>(p * 1000));
      const auto pk = codec::encode_runs(t);
      CAPTURE(n);
      CAPTURE(p);
      CHECK(pk.encoding == Encoding::runs_sign);
      CHECK(pk.nnz == t.nnz());
      codec::validate(pk.view(), n);
      const auto back = codec::decode_ternary(pk.view());
      CHECK(back.support == t.support);
      CHECK(back.negative == t.negative);
    }
  }
  // Long runs of zeros (dead units of a 784-wide layer): well under 1 bit a coordinate.
  const std::uint32_t n = 101770;
  const auto t = runs_ternary(n, 5000, 784, 3);
  const auto pk = codec::encode_ternary_best(t);
  CHECK(pk.encoding == Encoding::runs_sign);
  CHECK(pk.payload.size() * 8 < t.nnz() + n / 100);  // the signs plus ~13 bits for each of ~35 runs
  CHECK(pk.payload.size() < kernels::packed_bytes(n));
  // Few scattered zeros: close to 1 bit a coordinate.
  const auto few = random_ternary(n, 0.999, 5);
  CHECK(codec::encode_ternary_best(few).payload.size() < 1.02 * kernels::packed_bytes(n));
}

TEST_CASE("codec: runs_sign picks each Rice parameter with the fewest bits, short and long runs mixed") {
  // The encoder counts short codes by value and sums shifts only for long
  // ones; the parameters it writes must still be the first minimum of the
  // exact cost over its search window around log2(ln 2 * mean).
  auto best_k = [](const std::vector<std::uint32_t>& codes) {
    if (codes.empty()) return 0u;
    double sum = 0.0;
    for (std::uint32_t v : codes) sum += v;
    const double mean = std::max(1.0, sum / static_cast<double>(codes.size()));
    const int guess = static_cast<int>(std::floor(std::log2(std::max(1.0, mean * 0.6931471805599453))));
    unsigned best = 0;
    std::uint64_t best_bits = UINT64_MAX;
    for (int k = std::max(0, guess - 2); k <= std::min(31, guess + 2); ++k) {
      std::uint64_t bits = 0;
      for (std::uint32_t v : codes) bits += (v >> k) + 1 + static_cast<unsigned>(k);
      if (bits < best_bits) best_bits = bits, best = static_cast<unsigned>(k);
    }
    return best;
  };
  const std::uint32_t n = 101770;
  for (const auto& [mean_moving, mean_zero] : {std::pair{3.0, 2.0}, std::pair{40.0, 300.0}, std::pair{300.0, 40.0},
                                               std::pair{150.0, 260.0}, std::pair{5000.0, 784.0}}) {
    CAPTURE(mean_moving);
    CAPTURE(mean_zero);
    const auto t = runs_ternary(n, mean_moving, mean_zero, static_cast<std::uint64_t>(mean_moving * 7 + mean_zero));
    // The run codes as the format defines them: lengths of alternating moving
    // and zero runs, the first moving one (possibly empty) as is, the rest minus 1.
    std::vector<std::uint32_t> moving, zero;
    auto bit = [&](std::uint32_t i) { return (t.support[i / 8] >> (i % 8)) & 1; };
    std::uint32_t i = 0;
    bool first = true, in_moving = true;
    while (i < n) {
      std::uint32_t j = i;
      while (j < n && bit(j) == (in_moving ? 1 : 0)) ++j;
      if (first || j > i) (in_moving ? moving : zero).push_back(first ? j - i : j - i - 1);
      first = false;
      i = j;
      in_moving = !in_moving;
    }
    const auto pk = codec::encode_runs(t);
    codec::BitReader r(pk.payload);
    const unsigned km = r.get(5), kz = r.get(5);
    CHECK(km == best_k(moving));
    CHECK(kz == best_k(zero));
  }
}

TEST_CASE("codec: runs_sign decoder rejects malformed packets") {
  const auto t = random_ternary(1000, 0.7, 11);
  const auto good = codec::encode_runs(t);
  auto view = [&](std::vector<std::uint8_t>& b, std::uint32_t dim, std::uint32_t nnz) {
    return codec::PacketView{Encoding::runs_sign, dim, nnz, 0, 1.0f, b};
  };
  std::vector<std::uint8_t> b = good.payload;
  CHECK_THROWS_WITH_AS(codec::validate(view(b, 1000, good.nnz + 1), 1000), doctest::Contains("nnz"), CodecError);
  CHECK_THROWS_AS(codec::validate(view(b, 999, good.nnz), 0), CodecError);  // runs exceed dim
  std::vector<std::uint8_t> longer = good.payload;
  longer.push_back(0);
  CHECK_THROWS_WITH_AS(codec::validate(view(longer, 1000, good.nnz), 1000), doctest::Contains("trailing"), CodecError);
  std::vector<std::uint8_t> shorter(good.payload.begin(), good.payload.end() - 1);
  CHECK_THROWS_AS(codec::validate(view(shorter, 1000, good.nnz), 1000), CodecError);
  // A set pad bit after the last sign bit (if the last byte has room).
  std::vector<std::uint8_t> pad = good.payload;
  if (pad.back() != 0xFF) {
    pad.back() = static_cast<std::uint8_t>(pad.back() | 0x80);
    if (pad.back() != good.payload.back()) CHECK_THROWS_AS(codec::validate(view(pad, 1000, good.nnz), 1000), CodecError);
  }
  data::Rng r(99);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::uint8_t> bytes(r.below(64));
    for (auto& x : bytes) x = static_cast<std::uint8_t>(r.next());
    const auto dim = static_cast<std::uint32_t>(r.below(3000));
    try {
      const auto d = codec::decode_ternary(view(bytes, dim, static_cast<std::uint32_t>(r.below(dim + 1))));
      REQUIRE(d.dim == dim);
    } catch (const CodecError&) {
      ++rejected;
    }
  }
  CHECK(rejected > 2000);
}

TEST_CASE("codec: sign(0) = 0: exact zeros (and -0.0) abstain") {
  const std::vector<float> x = {1.0f, 0.0f, -2.0f, -0.0f, 3.0f};
  const auto t = codec::ternary_signs(x);
  CHECK(t.at(0) == 1);
  CHECK(t.at(1) == 0);
  CHECK(t.at(2) == -1);
  CHECK(t.at(3) == 0);
  CHECK(t.at(4) == 1);
  CHECK(t.nnz() == 3);
}

TEST_CASE("codec: validate() with a decoded form walks once for both, and encoders drop a stale decoded form") {
  codec::SparseSigns s;
  s.dim = 4000;
  for (std::uint32_t i = 3; i < s.dim; i += 7) {
    s.index.push_back(i);
    s.negative.push_back(static_cast<std::uint8_t>(i % 3 == 0));
  }
  const codec::SignPacket p = codec::encode_sparse(s);
  codec::SparseSigns decoded;
  codec::validate(p.view(), s.dim, &decoded);
  CHECK(decoded.dim == s.dim);
  CHECK(decoded.index == s.index);
  CHECK(decoded.negative == s.negative);
  // Other encodings leave it untouched; a malformed packet still throws.
  codec::SparseSigns untouched;
  codec::validate(codec::encode_float32(std::vector<float>{1.0f, -2.0f}).view(), 2, &untouched);
  CHECK(untouched.index.empty());
  codec::PacketView bad = p.view();
  bad.dim = 3000;
  CHECK_THROWS_AS(codec::validate(bad, 3000, &decoded), CodecError);
  // A reused packet drops the decoded form of its old payload.
  codec::SignPacket reused = codec::SignPacket::copy_of(p.view());
  reused.sparse = std::make_shared<codec::SparseSigns>(s);
  CHECK(reused.view().sparse != nullptr);
  codec::encode_float32_into(std::vector<float>{1.0f}, reused);
  CHECK(reused.view().sparse == nullptr);
  reused.sparse = std::make_shared<codec::SparseSigns>(s);
  codec::encode_sparse_into(s, reused);
  CHECK(reused.sparse == nullptr);
  CHECK(codec::SignPacket::copy_of(p.view()).sparse == nullptr);
}

TEST_CASE("codec: sparse decode refuses an index beyond dim early in a long packet (the 64-bit fast loop)") {
  // Every 20th of 10,000 coordinates: short codes, so the entry that crosses a
  // smaller dim is decoded with some 190 bytes still ahead, where the fast loop reads.
  codec::SparseSigns s;
  s.dim = 10000;
  for (std::uint32_t i = 0; i < s.dim; i += 20) s.index.push_back(i);
  s.negative.assign(s.index.size(), 1);
  const codec::SignPacket p = codec::encode_sparse(s);
  CHECK(codec::decode_sparse(p.view()).index == s.index);
  codec::PacketView v = p.view();
  for (std::uint32_t dim : {5000u, 5001u}) {  // index 5000 is dim, then dim - 1 ... and 5020 beyond it
    v.dim = dim;
    CAPTURE(dim);
    CHECK_THROWS_WITH_AS(codec::decode_sparse(v), doctest::Contains("out of range"), CodecError);
    CHECK_THROWS_WITH_AS(codec::validate(v, dim), doctest::Contains("out of range"), CodecError);  // the check-only walk
  }
  // The last index equal to dim and nothing beyond it: the 32 bytes of sign
  // bits behind it keep its code in the fast loop, which must flag it alone.
  codec::SparseSigns last = s;
  last.index.resize(251);  // 0, 20, ..., 5000
  last.negative.resize(251);
  const codec::SignPacket q = codec::encode_sparse(last);
  codec::PacketView at_dim = q.view();
  at_dim.dim = 5000;
  CHECK_THROWS_WITH_AS(codec::decode_sparse(at_dim), doctest::Contains("index 5000 out of range"), CodecError);
  CHECK_THROWS_WITH_AS(codec::validate(at_dim, 5000), doctest::Contains("index 5000 out of range"), CodecError);
  at_dim.dim = 5001;
  CHECK(codec::decode_sparse(at_dim).index == last.index);
  // validate() counts the sign bits instead of reading them: one short is refused as decode refuses it.
  codec::PacketView cut = p.view();
  cut.payload = cut.payload.first(cut.payload.size() - 1);
  CHECK_THROWS_AS(codec::decode_sparse(cut), CodecError);
  CHECK_THROWS_WITH_AS(codec::validate(cut, 10000), doctest::Contains("sign bits"), CodecError);
}

TEST_CASE("codec: ternary_signs equals the plain per-coordinate rule at every length and tail") {
  // Reference: support where x > 0 or x < 0, negative where x < 0 (NaN and +-0: neither).
  const float values[] = {1.0f, -2.0f, 0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(), 3e-38f, -1e-45f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  std::uint64_t state = 0x5eed;
  for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 40, 101770}) {
    CAPTURE(n);
    std::vector<float> x(n);
    for (float& v : x) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      v = values[(state >> 33) % std::size(values)];
    }
    const codec::TernarySigns t = codec::ternary_signs(x);
    REQUIRE(t.dim == n);
    REQUIRE(t.support.size() == (n + 7) / 8);
    std::vector<std::uint8_t> support((n + 7) / 8, 0), negative((n + 7) / 8, 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (x[i] > 0.0f || x[i] < 0.0f) support[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
      if (x[i] < 0.0f) negative[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    }
    CHECK(t.support == support);
    CHECK(t.negative == negative);
    std::uint64_t nnz = 0;
    for (std::size_t i = 0; i < n; ++i) nnz += x[i] > 0.0f || x[i] < 0.0f;
    CHECK(t.nnz() == nnz);
  }
}
