// The zlib-only zip reader (core/data/zip_reader.h) behind load_npz: archives
// numpy itself wrote (zip64 extra fields, stored and deflated), archives
// built here field by field, and malformed ones (a clear DataError each,
// never a crash).
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/local_data.h"
#include "core/data/zip_reader.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using namespace signfed::data::testing;  // TempDir, write_file, npy_bytes, le_bytes, data_error_of
using Bytes = std::vector<std::uint8_t>;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Written by numpy 1.24.2 (Debian python3-numpy):
//   x = np.array([[0, 255, 51], [1, 2, 3]], dtype=np.uint8); y = np.array([4, 1], dtype=np.int64)
//   np.savez("s.npz", x=x, y=y); np.savez_compressed("c.npz", x=x, y=y)
// Every local header carries a zip64 extra field (numpy opens members with
// force_zip64=True); the central directory has plain 32-bit sizes.
const std::string_view kNumpySavez(
    "\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x5b\x39\xf9\xcc\x86\x00\x00\x00\x86\x00\x00\x00\x05\x00"
    "\x14\x00\x78\x2e\x6e\x70\x79\x01\x00\x10\x00\x86\x00\x00\x00\x00\x00\x00\x00\x86\x00\x00\x00\x00\x00\x00\x00\x93"
    "\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x7c\x75\x31\x27\x2c\x20\x27\x66"
    "\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65"
    "\x27\x3a\x20\x28\x32\x2c\x20\x33\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\xff\x33\x01\x02\x03\x50\x4b\x03\x04\x14\x00\x00"
    "\x00\x00\x00\x00\x00\x21\x00\xf9\x26\xca\x1d\x90\x00\x00\x00\x90\x00\x00\x00\x05\x00\x14\x00\x79\x2e\x6e\x70\x79"
    "\x01\x00\x10\x00\x90\x00\x00\x00\x00\x00\x00\x00\x90\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59\x01\x00"
    "\x76\x00\x7b\x27\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x69\x38\x27\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f"
    "\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x29"
    "\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x0a\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x50\x4b\x01\x02"
    "\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x5b\x39\xf9\xcc\x86\x00\x00\x00\x86\x00\x00\x00\x05\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x78\x2e\x6e\x70\x79\x50\x4b\x01\x02\x14\x03\x14\x00\x00"
    "\x00\x00\x00\x00\x00\x21\x00\xf9\x26\xca\x1d\x90\x00\x00\x00\x90\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x00\x00\x00\x80\x01\xbd\x00\x00\x00\x79\x2e\x6e\x70\x79\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x66\x00"
    "\x00\x00\x84\x01\x00\x00\x00\x00",
    512);
const std::string_view kNumpySavezCompressed(
    "\x50\x4b\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00\x5b\x39\xf9\xcc\x4c\x00\x00\x00\x86\x00\x00\x00\x05\x00"
    "\x14\x00\x78\x2e\x6e\x70\x79\x01\x00\x10\x00\x86\x00\x00\x00\x00\x00\x00\x00\x4c\x00\x00\x00\x00\x00\x00\x00\x9b"
    "\xec\x17\xea\x1b\x10\xc9\xc8\x50\xc6\x50\xad\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x5e\x53\x6a\xa8\xae\xa3\xa0\x9e"
    "\x96\x5f\x54\x52\x94\x98\x17\x9f\x5f\x94\x92\x0a\x12\x77\x4b\xcc\x29\x4e\x05\x8a\x17\x67\x24\x16\xa4\x02\xf9\x1a"
    "\x46\x3a\x0a\xc6\x9a\x3a\x0a\xb5\x0a\x64\x03\x2e\x86\xff\xc6\x8c\x4c\xcc\x00\x50\x4b\x03\x04\x14\x00\x00\x00\x08"
    "\x00\x00\x00\x21\x00\xf9\x26\xca\x1d\x4a\x00\x00\x00\x90\x00\x00\x00\x05\x00\x14\x00\x79\x2e\x6e\x70\x79\x01\x00"
    "\x10\x00\x90\x00\x00\x00\x00\x00\x00\x00\x4a\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9\xc8\x50\xc6"
    "\x50\xad\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x6e\x93\x69\xa1\xae\xa3\xa0\x9e\x96\x5f\x54\x52\x94\x98\x17\x9f\x5f"
    "\x94\x92\x0a\x12\x77\x4b\xcc\x29\x4e\x05\x8a\x17\x67\x24\x16\xa4\x02\xf9\x1a\x46\x3a\x9a\x3a\x0a\xb5\x0a\x14\x00"
    "\x2e\x16\x06\x08\x60\x84\xd2\x00\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00\x5b\x39\xf9\xcc"
    "\x4c\x00\x00\x00\x86\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x78\x2e"
    "\x6e\x70\x79\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00\xf9\x26\xca\x1d\x4a\x00\x00\x00\x90"
    "\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x83\x00\x00\x00\x79\x2e\x6e\x70\x79\x50\x4b"
    "\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x66\x00\x00\x00\x04\x01\x00\x00\x00\x00",
    384);

void put16(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void set32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void set16(Bytes& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 2; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

Bytes raw_deflate(const Bytes& in) {
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  Bytes out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

struct Member {
  std::string name;
  Bytes data;
  bool deflate = false;
};

// A zip archive built field by field (APPNOTE 4.3), and where its records
// start, so that a test can break one field.
struct Zip {
  Bytes bytes;
  std::vector<std::size_t> local;    // each member's local header
  std::vector<std::size_t> central;  // each member's central directory entry
  std::size_t end = 0;               // the end of central directory record
};

// zip64: every central entry's sizes and offset are 0xFFFFFFFF with the
// values in a zip64 extra field, and the end record points to a zip64 end
// record (what an archive past 4 GiB or 65,535 members has).
Zip build_zip(const std::vector<Member>& members, bool zip64 = false) {
  Zip z;
  std::vector<Bytes> stored;
  for (const Member& m : members) {
    const Bytes body = m.deflate ? raw_deflate(m.data) : m.data;
    const auto crc = static_cast<std::uint32_t>(crc32(0L, m.data.data(), static_cast<uInt>(m.data.size())));
    Bytes common;  // version needed .. extra length: shared by both headers
    put16(common, 20);
    put16(common, 0);  // flags
    put16(common, m.deflate ? 8 : 0);
    put16(common, 0);  // time
    put16(common, 0x21);  // date
    put32(common, crc);
    put32(common, static_cast<std::uint32_t>(body.size()));
    put32(common, static_cast<std::uint32_t>(m.data.size()));
    put16(common, static_cast<std::uint32_t>(m.name.size()));
    put16(common, 0);  // extra length
    z.local.push_back(z.bytes.size());
    put32(z.bytes, 0x04034b50);
    z.bytes.insert(z.bytes.end(), common.begin(), common.end());
    z.bytes.insert(z.bytes.end(), m.name.begin(), m.name.end());
    z.bytes.insert(z.bytes.end(), body.begin(), body.end());
    stored.push_back(common);
  }
  const std::size_t cd = z.bytes.size();
  for (std::size_t i = 0; i < members.size(); ++i) {
    z.central.push_back(z.bytes.size());
    const std::size_t entry = z.bytes.size();
    put32(z.bytes, 0x02014b50);
    put16(z.bytes, 20);  // version made by
    z.bytes.insert(z.bytes.end(), stored[i].begin(), stored[i].end());
    put16(z.bytes, 0);  // comment length
    put16(z.bytes, 0);  // disk number start
    put16(z.bytes, 0);  // internal attributes
    put32(z.bytes, 0);  // external attributes
    put32(z.bytes, static_cast<std::uint32_t>(z.local[i]));
    z.bytes.insert(z.bytes.end(), members[i].name.begin(), members[i].name.end());
    if (zip64) {
      Bytes sizes(z.bytes.begin() + static_cast<std::ptrdiff_t>(entry + 20),
                  z.bytes.begin() + static_cast<std::ptrdiff_t>(entry + 28));  // compressed, uncompressed
      set32(z.bytes, entry + 20, 0xFFFFFFFF);
      set32(z.bytes, entry + 24, 0xFFFFFFFF);
      set32(z.bytes, entry + 42, 0xFFFFFFFF);
      set16(z.bytes, entry + 30, 28);  // extra length
      put16(z.bytes, 0x0001);
      put16(z.bytes, 24);
      put32(z.bytes, static_cast<std::uint32_t>(members[i].data.size()));  // uncompressed first
      put32(z.bytes, 0);
      z.bytes.insert(z.bytes.end(), sizes.begin(), sizes.begin() + 4);  // then compressed
      put32(z.bytes, 0);
      put32(z.bytes, static_cast<std::uint32_t>(z.local[i]));
      put32(z.bytes, 0);
    }
  }
  const std::size_t cd_size = z.bytes.size() - cd;
  if (zip64) {
    const std::size_t rec64 = z.bytes.size();
    put32(z.bytes, 0x06064b50);
    put32(z.bytes, 44);  // size of the rest of the record (64-bit)
    put32(z.bytes, 0);
    put16(z.bytes, 45);
    put16(z.bytes, 45);
    put32(z.bytes, 0);  // this disk
    put32(z.bytes, 0);  // disk with the directory
    for (int twice = 0; twice < 2; ++twice) {
      put32(z.bytes, static_cast<std::uint32_t>(members.size()));
      put32(z.bytes, 0);
    }
    put32(z.bytes, static_cast<std::uint32_t>(cd_size));
    put32(z.bytes, 0);
    put32(z.bytes, static_cast<std::uint32_t>(cd));
    put32(z.bytes, 0);
    put32(z.bytes, 0x07064b50);  // locator
    put32(z.bytes, 0);
    put32(z.bytes, static_cast<std::uint32_t>(rec64));
    put32(z.bytes, 0);
    put32(z.bytes, 1);  // total disks
  }
  z.end = z.bytes.size();
  put32(z.bytes, 0x06054b50);
  put16(z.bytes, 0);
  put16(z.bytes, 0);
  put16(z.bytes, zip64 ? 0xFFFF : static_cast<std::uint32_t>(members.size()));
  put16(z.bytes, zip64 ? 0xFFFF : static_cast<std::uint32_t>(members.size()));
  put32(z.bytes, zip64 ? 0xFFFFFFFF : static_cast<std::uint32_t>(cd_size));
  put32(z.bytes, zip64 ? 0xFFFFFFFF : static_cast<std::uint32_t>(cd));
  put16(z.bytes, 0);  // comment length
  return z;
}

const Bytes kX = npy_bytes("|u1", "(2, 3)", {0, 255, 51, 1, 2, 3});
const Bytes kY = npy_bytes("<i8", "(2,)", le_bytes(std::vector<std::int64_t>{4, 1}));

// A deflated member long enough that its stream spans several inflate calls.
Bytes long_member() {
  Bytes b(300000);
  std::mt19937 rng(7);
  for (auto& v : b) v = static_cast<std::uint8_t>(rng() % 16);  // compressible, not trivially
  return b;
}

std::string npz_error(const TempDir& dir, const Bytes& archive) {
  write_file(dir.file("d.npz"), archive, false);
  return data_error_of([&] { load_npz(dir.file("d.npz")); });
}

}  // namespace

TEST_CASE("zip: archives numpy wrote (zip64 local extras), stored and deflated") {
  TempDir dir;
  for (const std::string_view archive : {kNumpySavez, kNumpySavezCompressed}) {
    write_file(dir.file("d.npz"), bytes_of(archive), false);
    ZipArchive zip(dir.file("d.npz"));
    REQUIRE(zip.members().size() == 2);
    CHECK(zip.members()[0].name == "x.npy");
    CHECK(zip.members()[0].method == (archive.size() == 512 ? 0 : 8));
    CHECK(zip.read(zip.members()[0], "x") == kX);
    CHECK(zip.read(zip.members()[1], "y") == kY);
    const Dataset ds = load_npz(dir.file("d.npz"));
    CHECK(ds.rows == 2);
    CHECK(ds.bytes == Bytes{0, 255, 51, 1, 2, 3});
    CHECK(ds.labels == std::vector<std::uint8_t>{4, 1});
  }
}

TEST_CASE("zip: stored, deflated, empty and multi-block members read back exactly") {
  TempDir dir;
  const Bytes big = long_member();
  const Zip z = build_zip({{"x.npy", kX, false},
                           {"y.npy", kY, true},
                           {"empty", {}, false},
                           {"empty_deflated", {}, true},
                           {"big", big, true},
                           {"big_stored", big, false}});
  write_file(dir.file("d.zip"), z.bytes, false);
  ZipArchive zip(dir.file("d.zip"));
  REQUIRE(zip.members().size() == 6);
  CHECK(zip.read(zip.members()[0], "x") == kX);
  CHECK(zip.read(zip.members()[1], "y") == kY);
  CHECK(zip.read(zip.members()[2], "e").empty());
  CHECK(zip.read(zip.members()[3], "e").empty());
  CHECK(zip.members()[4].compressed_size > 2 * 65536);  // spans several 64 KiB read blocks
  CHECK(zip.read(zip.members()[4], "big") == big);
  CHECK(zip.read(zip.members()[5], "big_stored") == big);
  CHECK(load_npz(dir.file("d.zip")).labels == std::vector<std::uint8_t>{4, 1});
}

TEST_CASE("zip: zip64 directory entries and end record") {
  TempDir dir;
  const Zip z = build_zip({{"x.npy", kX, true}, {"y.npy", kY, false}}, true);
  write_file(dir.file("d.npz"), z.bytes, false);
  ZipArchive zip(dir.file("d.npz"));
  REQUIRE(zip.members().size() == 2);
  CHECK(zip.members()[1].local_offset == z.local[1]);
  CHECK(zip.members()[1].size == kY.size());
  CHECK(zip.members()[0].compressed_size < kX.size());
  CHECK(zip.members()[0].size == kX.size());
  const Dataset ds = load_npz(dir.file("d.npz"));
  CHECK(ds.bytes == Bytes{0, 255, 51, 1, 2, 3});
  CHECK(ds.labels == std::vector<std::uint8_t>{4, 1});
  Bytes b = z.bytes;
  set32(b, z.end - 20, 0x12345678);  // the locator's signature
  CHECK(contains(npz_error(dir, b), "malformed zip archive: zip64 fields without a zip64 locator"));
  b = z.bytes;
  set32(b, z.end - 12, 3);  // the locator points into the first local header
  CHECK(contains(npz_error(dir, b), "the zip64 locator points at no zip64 end record"));
  b = z.bytes;
  set16(b, z.central[0] + 46 + 5 + 2, 8);  // zip64 extra holding one value of three
  CHECK(contains(npz_error(dir, b), "zip64 extra field too short"));
}

TEST_CASE("zip: malformed archives give a clear DataError") {
  TempDir dir;
  const Zip good = build_zip({{"x.npy", kX, false}, {"y.npy", kY, true}});
  const std::size_t x_local = good.local[0];
  const std::size_t y_local = good.local[1];
  const std::size_t y_central = good.central[1];
  const std::string label = dir.file("d.npz") + ":y.npy: ";
  SUBCASE("too short, no end record, truncated") {
    CHECK(contains(npz_error(dir, {}), "as a .npz (zip) archive: Not a zip archive (too short)"));
    CHECK(contains(npz_error(dir, kX), "Not a zip archive (no end of central directory record)"));
    const Bytes cut(good.bytes.begin(), good.bytes.end() - 5);
    CHECK(contains(npz_error(dir, cut), "Not a zip archive"));
    const Bytes head(good.bytes.begin(), good.bytes.begin() + static_cast<std::ptrdiff_t>(good.end));
    CHECK(contains(npz_error(dir, head), "Not a zip archive"));
  }
  SUBCASE("central directory outside the file") {
    Bytes b = good.bytes;
    set32(b, good.end + 16, 1000000);  // its offset
    CHECK(contains(npz_error(dir, b), "malformed zip archive: the central directory (2 entries"));
    b = good.bytes;
    set16(b, good.end + 10, 9);  // 9 entries in the bytes of 2
    set16(b, good.end + 8, 9);
    CHECK(contains(npz_error(dir, b), "does not fit in the file"));
  }
  SUBCASE("spanning disks") {
    Bytes b = good.bytes;
    set16(b, good.end + 4, 1);
    CHECK(contains(npz_error(dir, b), "a zip archive spanning several disks is not supported"));
  }
  SUBCASE("a directory entry without its signature or running past the directory") {
    Bytes b = good.bytes;
    b[y_central] = 'X';
    CHECK(contains(npz_error(dir, b), "central directory entry 1: no entry signature"));
    b = good.bytes;
    set16(b, y_central + 28, 200);  // name length
    CHECK(contains(npz_error(dir, b), "central directory entry 1: runs past the directory's end"));
  }
  SUBCASE("local header missing, data past the end") {
    Bytes b = good.bytes;
    b[y_local] = 'X';
    CHECK(contains(npz_error(dir, b), label + "no local header where the directory points"));
    b = good.bytes;
    set32(b, y_central + 42, static_cast<std::uint32_t>(x_local + 3));  // points into x's header
    CHECK(contains(npz_error(dir, b), label + "no local header"));
    b = good.bytes;
    set32(b, y_central + 20, 100000);  // compressed size
    CHECK(contains(npz_error(dir, b), label + "its 100000 bytes run past the archive's end"));
  }
  SUBCASE("unsupported: encryption, other methods") {
    Bytes b = good.bytes;
    set16(b, y_central + 8, 1);
    CHECK(contains(npz_error(dir, b), label + "the member is encrypted"));
    b = good.bytes;
    set16(b, y_central + 10, 12);  // bzip2
    CHECK(contains(npz_error(dir, b), label + "compression method 12 is not supported (stored and deflated are"));
  }
  SUBCASE("stored: sizes disagree, CRC mismatch") {
    Bytes b = good.bytes;
    set32(b, good.central[0] + 24, 7);
    CHECK(contains(npz_error(dir, b), "x.npy: stored member with compressed size"));
    b = good.bytes;
    b[x_local + 30 + 5 + 20] ^= 1;  // a byte of x's header text
    CHECK(contains(npz_error(dir, b), "x.npy: CRC-32 mismatch (corrupt member)"));
  }
  SUBCASE("deflated: corrupt stream, ends early, longer or shorter than recorded") {
    const Zip big = build_zip({{"x.npy", kX, false}, {"y.npy", long_member(), true}});
    const std::size_t c = big.central[1];
    const std::size_t data = big.local[1] + 30 + 5;
    Bytes b = big.bytes;
    for (std::size_t i = 0; i < 64; ++i) b[data + 100 + i] = 0xFF;
    const std::string e = npz_error(dir, b);
    CHECK((contains(e, label + "corrupt deflate data") || contains(e, label + "CRC-32 mismatch")));
    b = big.bytes;
    set32(b, c + 20, 1000);  // compressed size: the stream is cut
    CHECK(contains(npz_error(dir, b), label + "the deflate stream ends early"));
    b = big.bytes;
    set32(b, c + 24, 299999);  // size one short
    CHECK(contains(npz_error(dir, b), label + "inflates to more than its recorded size 299999"));
    b = big.bytes;
    set32(b, c + 24, 300001);
    CHECK(contains(npz_error(dir, b), label + "inflates to 300000 bytes, its recorded size is 300001"));
    b = big.bytes;
    set32(b, c + 24, 0xFFFFFFF0);  // more than deflate can expand to
    CHECK(contains(npz_error(dir, b), label + "recorded size 4294967280 is more than"));
  }
}

TEST_CASE("zip: every truncation and random corruption is a value or a DataError") {
  TempDir dir;
  const Zip good = build_zip({{"x.npy", kX, true}, {"y.npy", kY, false}});
  auto attempt = [&](const Bytes& b) {
    write_file(dir.file("d.npz"), b, false);
    try {
      const Dataset ds = load_npz(dir.file("d.npz"));
      CHECK(ds.rows == 2);
    } catch (const DataError&) {  // the outcome wanted for a broken file
    }
  };
  for (std::size_t n = 0; n < good.bytes.size(); ++n) attempt(Bytes(good.bytes.begin(), good.bytes.begin() + static_cast<std::ptrdiff_t>(n)));
  std::mt19937 rng(13);
  for (int trial = 0; trial < 2000; ++trial) {
    Bytes b = good.bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    attempt(b);
  }
}
