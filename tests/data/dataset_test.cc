// Dataset storage: bytes kept as stored and read as the same floats the
// loaders produced when they widened at load time (issue 13 item 5), widen(),
// select_rows() and the moments of a bytes dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/moments.h"
#include "tests/data/test_util.h"

using namespace signfed::data;
using signfed::data::testing::floats_of;

namespace {

// Rows of 3 bytes: {0, 1, 2}, {3, 4, 5}, ... and labels r % 2.
Dataset bytes_dataset(std::size_t rows) {
  Dataset d;
  d.rows = rows;
  d.cols = 3;
  d.classes = 2;
  for (std::size_t i = 0; i < rows * 3; ++i) d.bytes.push_back(static_cast<std::uint8_t>((i * 37) % 256));
  for (std::size_t r = 0; r < rows; ++r) d.labels.push_back(static_cast<std::uint8_t>(r % 2));
  return d;
}

}  // namespace

TEST_CASE("dataset: byte_values is v / 255 in float, bit for bit (the loaders' conversion before bytes were kept)") {
  const auto& v = byte_values();
  for (unsigned b = 0; b < 256; ++b) {
    CAPTURE(b);
    const float want = static_cast<float>(b) / 255.0F;
    REQUIRE(std::bit_cast<std::uint32_t>(v[b]) == std::bit_cast<std::uint32_t>(want));
  }
  CHECK(v[0] == 0.0F);
  CHECK(v[255] == 1.0F);
  // A few values pinned to their bits, independently of the expression above.
  CHECK(std::bit_cast<std::uint32_t>(v[1]) == 0x3b808081U);    // 1/255
  CHECK(std::bit_cast<std::uint32_t>(v[128]) == 0x3f008081U);  // 128/255
}

TEST_CASE("dataset: row() of a bytes dataset equals the widened floats, and widen() frees the bytes") {
  const Dataset d = bytes_dataset(5);
  REQUIRE(d.stored_as_bytes());
  Dataset w = d;
  widen(w);
  CHECK_FALSE(w.stored_as_bytes());
  CHECK(w.bytes.empty());
  REQUIRE(w.features.size() == 15);
  std::vector<float> a(3), b(3);
  for (std::size_t r = 0; r < 5; ++r) {
    d.row(r, a);
    w.row(r, b);
    CHECK(a == b);
    for (std::size_t c = 0; c < 3; ++c) CHECK(a[c] == static_cast<float>(d.bytes[r * 3 + c]) / 255.0F);
  }
  widen(w);  // a floats dataset is left as it is
  CHECK(w.features.size() == 15);
}

TEST_CASE("dataset: select_rows keeps the storage form and the chosen rows in order") {
  const Dataset d = bytes_dataset(6);
  const std::vector<std::uint32_t> rows = {4, 1, 5};
  const Dataset s = select_rows(d, rows);
  CHECK(s.rows == 3);
  CHECK(s.cols == 3);
  CHECK(s.classes == 2);
  REQUIRE(s.stored_as_bytes());
  for (std::size_t j = 0; j < rows.size(); ++j)
    for (std::size_t c = 0; c < 3; ++c) CHECK(s.bytes[j * 3 + c] == d.bytes[rows[j] * 3 + c]);
  CHECK(s.labels == std::vector<std::uint8_t>{0, 1, 1});
  Dataset w = d;
  widen(w);
  const Dataset sf = select_rows(w, rows);
  CHECK(sf.features == floats_of(s));
}

TEST_CASE("dataset: moments of a bytes dataset equal those of its widened floats") {
  const Dataset d = bytes_dataset(7);
  Dataset w = d;
  widen(w);
  const FeatureMoments a = feature_moments(d), b = feature_moments(w);
  CHECK(a.count == b.count);
  CHECK(a.sum == b.sum);
  CHECK(a.sum_sq == b.sum_sq);
  const std::vector<std::uint32_t> rows = {0, 3, 6};
  CHECK(feature_moments(d, rows).sum_sq == feature_moments(w, rows).sum_sq);
}

namespace {

// Rows of `cols` bytes with every shape packing must keep: all zero, none
// zero, alternating, a nonzero last byte, and random bytes half of them 0.
Dataset mixed_bytes(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  Dataset d;
  d.rows = rows;
  d.cols = cols;
  d.classes = 3;
  std::uint64_t x = seed;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto noise = static_cast<std::uint8_t>(x >> 56);
      std::uint8_t v = 0;
      switch (r % 5) {
        case 0: v = 0; break;
        case 1: v = static_cast<std::uint8_t>(noise | 1); break;
        case 2: v = c % 2 ? 255 : 0; break;
        case 3: v = c + 1 == cols ? 7 : 0; break;
        default: v = (x >> 40) & 1 ? noise : 0; break;
      }
      d.bytes.push_back(v);
    }
    d.labels.push_back(static_cast<std::uint8_t>(r % 3));
  }
  return d;
}

Dataset packed_copy(const Dataset& d) {
  Dataset p = d;
  p.bytes.clear();
  p.packed.cols = d.cols;
  for (std::size_t r = 0; r < d.rows; ++r) p.packed.append(d.bytes.data() + r * d.cols);
  return p;
}

}  // namespace

TEST_CASE("dataset: packed rows read back as the same floats, widen and select as the plain bytes do") {
  for (const std::size_t cols : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{784}}) {
    CAPTURE(cols);
    const Dataset plain = mixed_bytes(23, cols, cols);
    const Dataset packed = packed_copy(plain);
    REQUIRE(packed.stored_packed());
    REQUIRE_FALSE(packed.stored_as_bytes());
    std::vector<float> a(cols), b(cols);
    for (std::size_t r = 0; r < plain.rows; ++r) {
      plain.row(r, a);
      packed.row(r, b);
      REQUIRE(a == b);
    }
    // The sizes add up: per row 2 bits a group of 8, a bitmap byte for each
    // mixed group (neither all zero nor all nonzero), the nonzero bytes.
    std::size_t expect = 1;
    for (std::size_t r = 0; r < plain.rows; ++r) {
      expect += ((cols + 7) / 8 + 3) / 4;
      for (std::size_t g = 0; g * 8 < cols; ++g) {
        std::size_t n = 0, nonzero = 0;
        for (std::size_t k = 8 * g; k < std::min(cols, 8 * g + 8); ++k, ++n) nonzero += plain.bytes[r * cols + k] != 0;
        expect += nonzero + (nonzero > 0 && nonzero < n ? 1 : 0);
      }
    }
    CHECK(packed.packed.data.size() == expect);
    CHECK(packed.packed.data.size() <= plain.rows * PackedRows::max_row_bytes(cols) + 1);
    const std::vector<std::uint32_t> pick = {22, 0, 3, 3, 17};
    const Dataset sp = select_rows(packed, pick);
    const Dataset sb = select_rows(plain, pick);
    REQUIRE(sp.stored_packed());
    CHECK(sp.labels == sb.labels);
    for (std::size_t j = 0; j < pick.size(); ++j) {
      sb.row(j, a);
      sp.row(j, b);
      CHECK(a == b);
    }
    Dataset wp = packed, wb = plain;
    widen(wp);
    widen(wb);
    CHECK_FALSE(wp.stored_packed());
    CHECK(wp.features == wb.features);
    const FeatureMoments mp = feature_moments(packed), mb = feature_moments(plain);
    CHECK(mp.sum == mb.sum);
    CHECK(mp.sum_sq == mb.sum_sq);
  }
}
