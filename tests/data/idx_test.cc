#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using namespace signfed::data::testing;  // idx_bytes, TempDir, write_file, require_fashion_mnist

constexpr std::uint32_t kImages = 0x00000803;
constexpr std::uint32_t kLabels = 0x00000801;

// 5 images of 3x4 pixels with values i*12+j, labels {2,0,7,2,1}.
std::vector<std::uint8_t> pixels5() {
  std::vector<std::uint8_t> p(5 * 12);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 4);
  p[7] = 255;
  return p;
}
const std::vector<std::uint8_t> kLabels5 = {2, 0, 7, 2, 1};

struct Pair {
  std::string images;
  std::string labels;
};

// Writes a valid pair named images/labels (plus .gz) and returns their paths.
Pair write_pair(const TempDir& dir, bool gz_images, bool gz_labels) {
  Pair p{dir.file(gz_images ? "images.gz" : "images"), dir.file(gz_labels ? "labels.gz" : "labels")};
  write_file(p.images, idx_bytes(kImages, {5, 3, 4}, pixels5()), gz_images);
  write_file(p.labels, idx_bytes(kLabels, {5}, kLabels5), gz_labels);
  return p;
}

// Runs f, which must throw DataError, and returns its message.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  FAIL("expected DataError");
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("idx: round trip through gzip and raw files") {
  TempDir dir;
  for (const bool gz_images : {false, true}) {
    for (const bool gz_labels : {false, true}) {
      CAPTURE(gz_images);
      CAPTURE(gz_labels);
      const Pair pair = write_pair(dir, gz_images, gz_labels);
      const Dataset ds = load_idx(pair.images, pair.labels);
      CHECK(ds.rows == 5);
      CHECK(ds.cols == 12);
      CHECK(ds.classes == 8);
      CHECK(ds.labels == kLabels5);
      const auto p = pixels5();
      // Kept as stored (1 byte a pixel), read as v / 255.
      REQUIRE(ds.stored_as_bytes());
      CHECK(ds.features.empty());
      CHECK(ds.bytes == p);
      std::vector<float> row(ds.cols);
      for (std::size_t r = 0; r < ds.rows; ++r) {
        ds.row(r, row);
        for (std::size_t c = 0; c < ds.cols; ++c) REQUIRE(row[c] == static_cast<float>(p[r * ds.cols + c]) / 255.0F);
      }
      const std::vector<float> f = floats_of(ds);
      REQUIRE(f.size() == p.size());
      CHECK(f[0] == 0.0F);
      CHECK(f[7] == 1.0F);
    }
  }
}

TEST_CASE("idx: load_fashion_mnist finds .gz and uncompressed names") {
  TempDir dir;
  write_file(dir.file("train-images-idx3-ubyte.gz"), idx_bytes(kImages, {5, 3, 4}, pixels5()), true);
  write_file(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes(kLabels, {5}, kLabels5), true);
  write_file(dir.file("t10k-images-idx3-ubyte"), idx_bytes(kImages, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 255}), false);
  write_file(dir.file("t10k-labels-idx1-ubyte"), idx_bytes(kLabels, {2}, {9, 3}), false);
  const Dataset train = load_fashion_mnist(dir.path().string(), Split::train);
  CHECK(train.rows == 5);
  CHECK(train.labels == kLabels5);
  const Dataset test = load_fashion_mnist(dir.path().string(), Split::test);
  CHECK(test.rows == 2);
  CHECK(test.cols == 4);
  CHECK(test.classes == 10);
  CHECK(floats_of(test).back() == 1.0F);
}

TEST_CASE("idx: bad magic is reported") {
  TempDir dir;
  const Pair pair = write_pair(dir, false, true);
  const std::string& images = pair.images;
  const std::string& labels = pair.labels;
  write_file(dir.file("junk"), idx_bytes(0x12345678, {5, 3, 4}, pixels5()), false);
  std::string msg = error_of([&] { load_idx(dir.file("junk"), labels); });
  CHECK(contains(msg, dir.file("junk")));
  CHECK(contains(msg, "bad magic 0x12345678, expected 0x00000803"));
  // Paths swapped: say so.
  msg = error_of([&] { load_idx(labels, images); });
  CHECK(contains(msg, "bad magic 0x00000801"));
  CHECK(contains(msg, "swapped"));
  // A gzip file whose content is not IDX.
  write_file(dir.file("text.gz"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'}, true);
  msg = error_of([&] { load_idx(dir.file("text.gz"), labels); });
  CHECK(contains(msg, "bad magic"));
}

TEST_CASE("idx: truncated files are reported") {
  TempDir dir;
  const Pair pair = write_pair(dir, true, true);
  const std::string& images = pair.images;
  const std::string& labels = pair.labels;
  for (const bool gz : {false, true}) {
    CAPTURE(gz);
    auto short_pixels = pixels5();
    short_pixels.resize(50);
    const std::string path = dir.file(gz ? "short.gz" : "short");
    write_file(path, idx_bytes(kImages, {5, 3, 4}, short_pixels), gz);
    const std::string msg = error_of([&] { load_idx(path, labels); });
    CHECK(contains(msg, path + ": truncated: expected 60 pixel bytes, got 50"));
  }
  // Header cut short.
  write_file(dir.file("stub"), {0, 0, 8, 3, 0, 0}, false);
  CHECK(contains(error_of([&] { load_idx(dir.file("stub"), labels); }), "truncated: expected a 16-byte IDX header, got 6"));
  // Labels cut short.
  write_file(dir.file("short-labels"), idx_bytes(kLabels, {5}, {1, 2, 3}), false);
  CHECK(contains(error_of([&] { load_idx(images, dir.file("short-labels")); }), "expected 5 label bytes, got 3"));
  // A gzip stream cut in the middle: truncated or corrupt, never garbage.
  std::vector<std::uint8_t> big(20 * 28 * 28);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>((i * 2654435761U) >> 13);
  write_file(dir.file("big.gz"), idx_bytes(kImages, {20, 28, 28}, big), true);
  const auto full = std::filesystem::file_size(dir.file("big.gz"));
  std::filesystem::resize_file(dir.file("big.gz"), full / 2);
  write_file(dir.file("big-labels"), idx_bytes(kLabels, {20}, std::vector<std::uint8_t>(20, 1)), false);
  const std::string msg = error_of([&] { load_idx(dir.file("big.gz"), dir.file("big-labels")); });
  CHECK((contains(msg, "truncated") || contains(msg, "corrupt gzip")));
}

TEST_CASE("idx: trailing data after the declared size is reported") {
  TempDir dir;
  const Pair pair = write_pair(dir, false, false);
  const std::string& labels = pair.labels;
  auto long_pixels = pixels5();
  long_pixels.push_back(0);
  write_file(dir.file("long"), idx_bytes(kImages, {5, 3, 4}, long_pixels), false);
  CHECK(contains(error_of([&] { load_idx(dir.file("long"), labels); }), "data continues after the 60 pixel bytes"));
}

TEST_CASE("idx: image and label counts must match") {
  TempDir dir;
  const Pair pair = write_pair(dir, false, false);
  const std::string& images = pair.images;
  const std::string& labels = pair.labels;
  write_file(dir.file("four-labels"), idx_bytes(kLabels, {4}, {1, 2, 3, 4}), false);
  const std::string msg = error_of([&] { load_idx(images, dir.file("four-labels")); });
  CHECK(contains(msg, "holds 5 images but"));
  CHECK(contains(msg, "holds 4 labels"));
  // Zero-sized dimensions hold nothing to train on.
  write_file(dir.file("empty"), idx_bytes(kImages, {0, 3, 4}, {}), false);
  CHECK(contains(error_of([&] { load_idx(dir.file("empty"), labels); }), "dimension 0 is 0"));
}

TEST_CASE("idx: missing files name the Debian package") {
  TempDir dir;
  const Pair pair = write_pair(dir, false, false);
  const std::string& labels = pair.labels;
  std::string msg = error_of([&] { load_idx(dir.file("nope.gz"), labels); });
  CHECK(contains(msg, "cannot open " + dir.file("nope.gz") + ": No such file or directory"));
  CHECK(contains(msg, "apt-get install dataset-fashion-mnist"));
  msg = error_of([&] { load_fashion_mnist((dir.path() / "absent").string(), Split::train); });
  CHECK(contains(msg, "train-images-idx3-ubyte.gz"));
  CHECK(contains(msg, "apt-get install dataset-fashion-mnist"));
  CHECK(contains(msg, "--data DIR"));
}

TEST_CASE("idx: real Fashion-MNIST from the Debian package") {
  require_fashion_mnist();
  const std::string dir(kFashionMnistDir);
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset train = load_fashion_mnist(dir, Split::train);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("loaded Fashion-MNIST train (60000x784) in " << ms << " ms");
  const Dataset test = load_fashion_mnist(dir, Split::test);
  for (const auto* ds : {&train, &test}) {
    const std::size_t n = ds == &train ? 60000 : 10000;
    CHECK(ds->rows == n);
    CHECK(ds->cols == 784);
    CHECK(ds->classes == 10);
    REQUIRE(ds->bytes.size() == n * 784);
    REQUIRE(ds->labels.size() == n);
    const auto [lo, hi] = std::minmax_element(ds->bytes.begin(), ds->bytes.end());
    CHECK(*lo == 0);
    CHECK(*hi == 255);
    std::vector<std::size_t> counts(10);
    for (const auto l : ds->labels) ++counts[l];
    for (const auto c : counts) CHECK(c == n / 10);
  }
}

TEST_CASE("idx: a row selector keeps exactly the selected rows, as the full load has them") {
  require_fashion_mnist();
  const std::string dir(kFashionMnistDir);
  const Dataset full = load_fashion_mnist(dir, Split::test);
  const auto spec = parse_partition("class1", 10, 3);
  const auto parts = partition(full.labels, full.classes, spec);
  std::size_t seen_classes = 0;
  const Dataset shard = load_fashion_mnist(dir, Split::test, [&](const std::vector<std::uint8_t>& labels, std::size_t classes) {
    seen_classes = classes;
    CHECK(labels == full.labels);  // the selector sees every label
    return partition(labels, classes, spec).at(4);
  });
  CHECK(seen_classes == 10);
  REQUIRE(shard.rows == parts[4].size());
  CHECK(shard.classes == 10);
  CHECK(shard.cols == 784);
  for (std::size_t j = 0; j < shard.rows; ++j) {
    const std::uint32_t r = parts[4][j];
    CHECK(shard.labels[j] == full.labels[r]);
    REQUIRE(std::equal(shard.bytes.begin() + static_cast<std::ptrdiff_t>(j * 784),
                       shard.bytes.begin() + static_cast<std::ptrdiff_t>((j + 1) * 784),
                       full.bytes.begin() + static_cast<std::ptrdiff_t>(r * 784)));
  }
  CHECK_THROWS_AS(load_fashion_mnist(dir, Split::test,
                                     [](const std::vector<std::uint8_t>&, std::size_t) {
                                       return std::vector<std::uint32_t>{5, 2};  // unsorted
                                     }),
                  DataError);
  // Packed as it is read (an edge's shard): the same rows as floats, in a
  // fraction of the bytes (Fashion-MNIST is about half zeros; this class, coats, fewer).
  const Dataset packed = load_fashion_mnist(
      dir, Split::test,
      [&](const std::vector<std::uint8_t>& labels, std::size_t classes) {
        return partition(labels, classes, spec).at(4);
      },
      PixelStorage::packed);
  REQUIRE(packed.stored_packed());
  CHECK(packed.bytes.empty());
  REQUIRE(packed.rows == shard.rows);
  CHECK(packed.labels == shard.labels);
  std::vector<float> a(784), b(784);
  for (std::size_t j = 0; j < shard.rows; ++j) {
    shard.row(j, a);
    packed.row(j, b);
    REQUIRE(a == b);
  }
  INFO("packed bytes: " << packed.packed.data.size() << " of " << shard.bytes.size());
  CHECK(packed.packed.data.size() < 0.8 * static_cast<double>(shard.bytes.size()));  // coats: 0.73
}
