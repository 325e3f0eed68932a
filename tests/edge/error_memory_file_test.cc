// The --state file (edge/error_memory_file.h): its exact bytes, and that a
// damaged, truncated or foreign file is refused without touching the memory.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <vector>

#include "edge/error_memory_file.h"
#include "tests/data/test_util.h"

using namespace signfed::edge;
using signfed::data::testing::TempDir;

namespace {

std::vector<std::uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const std::string& p, const std::vector<std::uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<float> sample_memory() {
  return {0.5f, -0.0f, 1e-30f, -3.25f, std::numeric_limits<float>::max(), 0.0f, 7.0f};
}

bool bit_equal(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("state file: round trip is bit-exact and keeps the round") {
  TempDir d;
  const std::string p = d.file("edge.state");
  const std::vector<float> e = sample_memory();
  REQUIRE(save_error_memory(p, 42, e) == "");
  CHECK(!std::filesystem::exists(p + ".tmp"));
  std::vector<float> back(e.size(), 9.0f);
  const LoadResult r = load_error_memory(p, back);
  CHECK(r.status == LoadStatus::ok);
  CHECK(r.round == 42);
  CHECK(r.message.empty());
  CHECK(bit_equal(back, e));
  // Overwriting replaces the file.
  std::vector<float> e2(e.size(), 1.5f);
  REQUIRE(save_error_memory(p, 43, e2) == "");
  CHECK(load_error_memory(p, back).round == 43);
  CHECK(bit_equal(back, e2));
}

TEST_CASE("state file: bytes follow the documented layout (magic, version, dim, round, floats, CRC-32)") {
  TempDir d;
  const std::string p = d.file("s");
  const float v[2] = {1.0f, -2.0f};
  REQUIRE(save_error_memory(p, 0x01020304, v) == "");
  const std::vector<std::uint8_t> b = read_bytes(p);
  const std::vector<std::uint8_t> head = {'S', 'F', 'E', 'M', 1, 0, 0, 0, 2, 0, 0, 0, 4, 3, 2, 1,
                                          0x00, 0x00, 0x80, 0x3f,   // 1.0f, little-endian
                                          0x00, 0x00, 0x00, 0xc0};  // -2.0f
  REQUIRE(b.size() == 20 + 4 * 2);
  CHECK(std::vector<std::uint8_t>(b.begin(), b.begin() + 24) == head);
  const std::uint32_t crc = static_cast<std::uint32_t>(crc32(crc32(0, Z_NULL, 0), b.data(), 24));
  CHECK((b[24] | b[25] << 8 | b[26] << 16 | std::uint32_t{b[27]} << 24) == crc);
}

TEST_CASE("state file: a missing file is 'absent', without a message") {
  TempDir d;
  std::vector<float> m(3, 0.0f);
  const LoadResult r = load_error_memory(d.file("none"), m);
  CHECK(r.status == LoadStatus::absent);
  CHECK(r.message.empty());
}

// A saved sample file's bytes, and loads of altered versions of it.
struct Damage {
  TempDir d;
  std::string path = d.file("s");
  std::vector<std::uint8_t> good;
  std::vector<float> memory = std::vector<float>(sample_memory().size(), 0.0f);

  Damage() {
    REQUIRE(save_error_memory(path, 1, sample_memory()) == "");
    good = read_bytes(path);
  }
  LoadResult load(const std::vector<std::uint8_t>& bytes) {
    write_bytes(path, bytes);
    return load_error_memory(path, memory);
  }
  bool memory_untouched() const {
    return std::all_of(memory.begin(), memory.end(), [](float v) { return v == 0.0f; });
  }
};

TEST_CASE("state file: every truncation and an appended byte are refused, the memory untouched") {
  Damage t;
  for (std::size_t len = 0; len < t.good.size(); ++len) {
    CAPTURE(len);
    const LoadResult r = t.load({t.good.begin(), t.good.begin() + static_cast<std::ptrdiff_t>(len)});
    CHECK(r.status == LoadStatus::corrupt);
    CHECK(r.message.find("zero error memory") != std::string::npos);
  }
  std::vector<std::uint8_t> longer = t.good;
  longer.push_back(0);
  CHECK(t.load(longer).status == LoadStatus::corrupt);
  CHECK(t.memory_untouched());
}

TEST_CASE("state file: a flipped bit anywhere is refused") {
  Damage t;
  for (std::size_t i = 0; i < t.good.size(); ++i) {
    for (int bit : {0, 7}) {
      CAPTURE(i);
      std::vector<std::uint8_t> bad = t.good;
      bad[i] ^= static_cast<std::uint8_t>(1u << bit);
      CHECK(t.load(bad).status != LoadStatus::ok);
    }
  }
  CHECK(t.memory_untouched());
  // A damaged body is named as a CRC failure.
  std::vector<std::uint8_t> bad = t.good;
  bad[17] ^= 0x10;
  CHECK(t.load(bad).message.find("CRC") != std::string::npos);
}

TEST_CASE("state file: a valid file for another model size is refused as wrong_size") {
  TempDir d;
  const std::string p = d.file("s");
  REQUIRE(save_error_memory(p, 1, sample_memory()) == "");
  std::vector<float> m(sample_memory().size() + 1, 0.0f);
  const LoadResult r = load_error_memory(p, m);
  CHECK(r.status == LoadStatus::wrong_size);
  CHECK(r.message.find("holds 7 values but this model has 8 parameters") != std::string::npos);
  for (float v : m) CHECK(v == 0.0f);
}

TEST_CASE("state file: an unwritable directory gives a message, and the old file survives a failed save") {
  TempDir d;
  CHECK(save_error_memory(d.file("no/such/dir/s"), 1, sample_memory()).find("cannot create") == 0);
  // A read-only directory (root ignores permissions: there, a path through a regular file instead).
  const std::string ro = d.file("ro");
  std::filesystem::create_directory(ro);
  REQUIRE(save_error_memory(ro + "/s", 1, sample_memory()) == "");
  ::chmod(ro.c_str(), 0500);
  const std::string err = ::geteuid() == 0 ? save_error_memory(ro + "/s/x", 2, sample_memory())
                                           : save_error_memory(ro + "/s", 2, sample_memory());
  ::chmod(ro.c_str(), 0700);
  CHECK(err.find("cannot create") == 0);
  std::vector<float> m(sample_memory().size(), 0.0f);
  const LoadResult r = load_error_memory(ro + "/s", m);
  CHECK(r.status == LoadStatus::ok);
  CHECK(r.round == 1);
  CHECK(!std::filesystem::exists(ro + "/s.tmp"));
}

TEST_CASE("state file: a failed rename is reported and the temporary removed") {
  TempDir d;
  const std::string p = d.file("target");
  std::filesystem::create_directory(p);  // rename(file, non-empty directory) fails
  std::filesystem::create_directory(p + "/inside");
  const std::string err = save_error_memory(p, 1, sample_memory());
  CHECK(err.find("cannot rename") == 0);
  CHECK(!std::filesystem::exists(p + ".tmp"));
}
