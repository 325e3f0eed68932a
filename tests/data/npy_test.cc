#include <doctest/doctest.h>
#include <zip.h>

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/local_data.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using namespace signfed::data::testing;  // TempDir, write_file, npy_bytes, le_bytes, data_error_of

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

using Bytes = std::vector<std::uint8_t>;

// A zip archive of name -> bytes, written with libzip, each member stored or
// deflated (as np.savez / np.savez_compressed do).
void write_zip(const std::string& path, const std::map<std::string, Bytes>& members, bool deflate) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (z == nullptr) throw std::runtime_error("zip_open " + path);
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    const zip_int64_t i = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    if (i < 0) throw std::runtime_error("zip_file_add " + name);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(i), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("zip_close " + path);  // writes now: buffers still alive
}

const std::vector<float> kX = {0.5F, -1.0F, 2.0F, 3.25F, 4.0F, 5.0F, 6.0F, -7.5F, 8.0F, 9.0F, 10.0F, 11.0F};

std::string write_npy(const TempDir& dir, const std::string& name, const Bytes& bytes) {
  write_file(dir.file(name), bytes, false);
  return dir.file(name);
}

std::string npy_error(const TempDir& dir, const Bytes& x, const Bytes& y) {
  const std::string xp = write_npy(dir, "x.npy", x);
  const std::string yp = write_npy(dir, "y.npy", y);
  return data_error_of([&] { load_npy(xp, yp); });
}

const Bytes kGoodX = npy_bytes("<f4", "(3, 2, 2)", le_bytes(kX));
const Bytes kGoodY = npy_bytes("<i8", "(3,)", le_bytes(std::vector<std::int64_t>{2, 0, 9}));

}  // namespace

TEST_CASE("npy: float32 (N, 2, 2) features and int64 labels") {
  TempDir dir;
  const Dataset ds = load_npy(write_npy(dir, "x.npy", kGoodX), write_npy(dir, "y.npy", kGoodY));
  CHECK(ds.rows == 3);
  CHECK(ds.cols == 4);
  CHECK(ds.sample_shape == std::vector<std::size_t>{2, 2});
  CHECK(ds.classes == 10);
  CHECK(ds.features == kX);
  CHECK(ds.labels == std::vector<std::uint8_t>{2, 0, 9});
}

TEST_CASE("npy: float64 kept, uint8 scaled to [0,1], every integer label dtype, versions 1-3") {
  TempDir dir;
  SUBCASE("float64 (2, 3), format 2.0, uint8 labels") {
    const Dataset ds = load_npy(write_npy(dir, "x.npy", npy_bytes("<f8", "(2, 3)", le_bytes(std::vector<double>{0.1, 1, 2, 3, 4, 1e30}), false, 2)),
                                write_npy(dir, "y.npy", npy_bytes("|u1", "(2,)", {1, 255})));
    CHECK(ds.cols == 3);
    CHECK(ds.sample_shape == std::vector<std::size_t>{3});
    CHECK(ds.features == std::vector<float>{0.1F, 1, 2, 3, 4, 1e30F});
    CHECK(ds.classes == 256);
  }
  SUBCASE("uint8 (2, 2), format 3.0") {
    const Dataset ds = load_npy(write_npy(dir, "x.npy", npy_bytes("|u1", "(2, 2)", {0, 255, 51, 1}, false, 3)),
                                write_npy(dir, "y.npy", npy_bytes("<u2", "(2,)", le_bytes(std::vector<std::uint16_t>{0, 3}))));
    CHECK(ds.bytes == std::vector<std::uint8_t>{0, 255, 51, 1});  // kept as stored
    CHECK(signfed::data::testing::floats_of(ds) == std::vector<float>{0.0F, 1.0F, 0.2F, 1.0F / 255.0F});
    CHECK(ds.labels == std::vector<std::uint8_t>{0, 3});
  }
  SUBCASE("1-d features: one per sample") {
    const Dataset ds = load_npy(write_npy(dir, "x.npy", npy_bytes("<f4", "(2,)", le_bytes(std::vector<float>{1, 2}))),
                                write_npy(dir, "y.npy", npy_bytes("|i1", "(2,)", {1, 0})));
    CHECK(ds.cols == 1);
    CHECK(ds.sample_shape.empty());
  }
  SUBCASE("other label widths") {
    const std::string xp = write_npy(dir, "x.npy", npy_bytes("<f4", "(2,)", le_bytes(std::vector<float>{1, 2})));
    CHECK(load_npy(xp, write_npy(dir, "y.npy", npy_bytes("<i2", "(2,)", le_bytes(std::vector<std::int16_t>{4, 1})))).labels ==
          std::vector<std::uint8_t>{4, 1});
    CHECK(load_npy(xp, write_npy(dir, "y.npy", npy_bytes("<i4", "(2,)", le_bytes(std::vector<std::int32_t>{4, 1})))).labels ==
          std::vector<std::uint8_t>{4, 1});
    CHECK(load_npy(xp, write_npy(dir, "y.npy", npy_bytes("<u8", "(2,)", le_bytes(std::vector<std::uint64_t>{4, 1})))).labels ==
          std::vector<std::uint8_t>{4, 1});
  }
}

TEST_CASE("npz: x and y, stored and deflated") {
  TempDir dir;
  for (const bool deflate : {false, true}) {
    CAPTURE(deflate);
    write_zip(dir.file("d.npz"), {{"x.npy", kGoodX}, {"y.npy", kGoodY}, {"extra.npy", kGoodY}}, deflate);
    const Dataset ds = load_npz(dir.file("d.npz"));
    CHECK(ds.rows == 3);
    CHECK(ds.sample_shape == std::vector<std::size_t>{2, 2});
    CHECK(ds.features == kX);
    CHECK(ds.labels == std::vector<std::uint8_t>{2, 0, 9});
  }
}

TEST_CASE("npy/npz: errors name the file and say what to do") {
  TempDir dir;
  const std::string xp = dir.file("x.npy");
  const std::string yp = dir.file("y.npy");
  SUBCASE("big-endian") {
    const std::string e = npy_error(dir, npy_bytes(">f4", "(3, 2, 2)", le_bytes(kX)), kGoodY);
    CHECK(contains(e, xp + ": dtype '>f4' is big-endian; only little-endian is read — convert with"));
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes(">i8", "(3,)", le_bytes(std::vector<std::int64_t>{2, 0, 9}))),
                   yp + ": dtype '>i8' is big-endian"));
  }
  SUBCASE("fortran order") {
    CHECK(contains(npy_error(dir, npy_bytes("<f4", "(3, 2, 2)", le_bytes(kX), true), kGoodY),
                   xp + ": fortran_order is True (column-major); only C order is read — save np.ascontiguousarray(a)"));
  }
  SUBCASE("not a .npy") {
    CHECK(contains(npy_error(dir, {'a', ',', 'b', '\n', '1', ',', '2', '\n', '3', '4', '5'}, kGoodY),
                   xp + ": not a .npy file (no \\x93NUMPY magic)"));
    Bytes v4 = kGoodX;
    v4[6] = 4;
    CHECK(contains(npy_error(dir, v4, kGoodY), "NPY format version 4 is not supported"));
  }
  SUBCASE("feature dtype") {
    CHECK(contains(npy_error(dir, npy_bytes("<i4", "(3,)", le_bytes(std::vector<std::int32_t>{1, 2, 3})), kGoodY),
                   xp + ": features dtype '<i4' is not supported — use float32, float64 or uint8"));
    CHECK(contains(npy_error(dir, npy_bytes("<f2", "(3,)", {0, 0, 0, 0, 0, 0}), kGoodY),
                   "features dtype '<f2' is not supported"));
  }
  SUBCASE("labels: dtype, shape, count, range") {
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes("<f4", "(3,)", le_bytes(std::vector<float>{1, 2, 3}))),
                   yp + ": labels must be integers of shape (3,) to match the 3 samples; got dtype '<f4' shape (3,)"));
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes("|u1", "(3, 1)", {1, 2, 3})), "got shape (3, 1)"));
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes("|u1", "(2,)", {1, 2})), "got shape (2,)"));
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes("<i2", "(3,)", le_bytes(std::vector<std::int16_t>{1, 256, 0}))),
                   yp + ": label of sample 1 is 256; labels must be class numbers 0..255"));
    CHECK(contains(npy_error(dir, kGoodX, npy_bytes("|i1", "(3,)", {1, 2, 0xFF})), "label of sample 2 is a negative value"));
  }
  SUBCASE("sizes") {
    CHECK(contains(npy_error(dir, npy_bytes("<f4", "(3, 2, 2)", le_bytes(std::vector<float>{1, 2})), kGoodY),
                   xp + ": truncated: shape (3, 2, 2) of <f4 needs 48 data bytes, the file has 8"));
    Bytes longer = kGoodX;
    longer.push_back(0);
    CHECK(contains(npy_error(dir, longer, kGoodY), "1 bytes follow the 48 data bytes"));
    CHECK(contains(npy_error(dir, npy_bytes("<f4", "(0, 3)", {}), kGoodY), "features of shape (0, 3) hold no samples"));
    CHECK(contains(npy_error(dir, npy_bytes("<f4", "(3, 0)", {}), kGoodY), "features of shape (3, 0) have no values per sample"));
  }
  SUBCASE("non-finite feature") {
    std::vector<float> x = kX;
    x[5] = std::numeric_limits<float>::quiet_NaN();
    CHECK(contains(npy_error(dir, npy_bytes("<f4", "(3, 2, 2)", le_bytes(x)), kGoodY),
                   xp + ": value 5 (sample 1) is not finite"));
    CHECK(contains(npy_error(dir, npy_bytes("<f8", "(3,)", le_bytes(std::vector<double>{1, 1e300, 0})), kGoodY),
                   "value 1 (sample 1) is not finite (NaN, infinity, or beyond float range)"));
  }
  SUBCASE("npz without x or y lists the arrays") {
    write_zip(dir.file("d.npz"), {{"arr_0.npy", kGoodX}, {"y.npy", kGoodY}}, true);
    CHECK(contains(data_error_of([&] { load_npz(dir.file("d.npz")); }),
                   dir.file("d.npz") + ": no array named 'x' (arrays found: arr_0, y) — save with np.savez(path, x=features, y=labels)"));
    write_zip(dir.file("d.npz"), {{"x.npy", kGoodX}}, false);
    CHECK(contains(data_error_of([&] { load_npz(dir.file("d.npz")); }), "no array named 'y' (arrays found: x)"));
  }
  SUBCASE("npz member errors name the member") {
    write_zip(dir.file("d.npz"), {{"x.npy", kGoodX}, {"y.npy", npy_bytes("|u1", "(2,)", {1, 2})}}, true);
    CHECK(contains(data_error_of([&] { load_npz(dir.file("d.npz")); }), dir.file("d.npz") + ":y.npy: labels must be"));
  }
  SUBCASE("not a zip") {
    write_file(dir.file("d.npz"), kGoodX, false);
    CHECK(contains(data_error_of([&] { load_npz(dir.file("d.npz")); }),
                   "cannot open " + dir.file("d.npz") + " as a .npz (zip) archive: Not a zip archive"));
  }
}
