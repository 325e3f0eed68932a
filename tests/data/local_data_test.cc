#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/local_data.h"
#include "tests/data/test_util.h"

namespace {

using namespace signfed::data;
using namespace signfed::data::testing;  // TempDir, write_file, write_text, npy_bytes, le_bytes, data_error_of

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Debian's python3 (with python3-numpy); the python3 first on PATH may lack numpy.
constexpr const char* kPython = "/usr/bin/python3";
// Where python3-sklearn installs its bundled datasets.
const std::string kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";

// Runs a Python program with Debian's python3 and numpy; false (with a
// message) when it fails, e.g. numpy missing.
bool run_python(const std::string& program) {
  const std::string cmd = std::string(kPython) + " -c '" + program + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    MESSAGE(kPython << " failed (rc " << rc << "): numpy missing? install it with tools/install-deps.sh --test "
                    << "(apt-get install python3-numpy)");
  }
  return rc == 0;
}

}  // namespace

TEST_CASE("load_local_data: the format comes from the file name") {
  TempDir dir;
  write_text(dir.file("a.csv"), "f,label\n1,2\n");
  write_text(dir.file("b.CSV.gz"), "f,y\n3,4\n", true);
  write_file(dir.file("x.npy"), npy_bytes("<f4", "(1, 1)", le_bytes(std::vector<float>{5})), false);
  write_file(dir.file("y.npy"), npy_bytes("|u1", "(1,)", {6}), false);
  write_file(dir.file("train-images-idx3-ubyte.gz"), idx_bytes(0x803, {1, 1, 2}, {0, 255}), true);
  write_file(dir.file("train-labels-idx1-ubyte"), idx_bytes(0x801, {1}, {7}), false);

  CHECK(load_local_data({.path = dir.file("a.csv")}).labels == std::vector<std::uint8_t>{2});
  const Dataset b = load_local_data({.path = dir.file("b.CSV.gz"), .csv = {.label = "y"}});
  CHECK(b.features == std::vector<float>{3});
  CHECK(b.labels == std::vector<std::uint8_t>{4});
  CHECK(load_local_data({.path = dir.file("x.npy"), .labels_path = dir.file("y.npy")}).labels ==
        std::vector<std::uint8_t>{6});
  const Dataset idx = load_local_data({.path = dir.file("train-images-idx3-ubyte.gz"),
                                       .labels_path = dir.file("train-labels-idx1-ubyte")});
  CHECK(floats_of(idx) == std::vector<float>{0.0F, 1.0F});
  CHECK(idx.sample_shape == std::vector<std::size_t>{1, 2});
  CHECK(idx.labels == std::vector<std::uint8_t>{7});
}

TEST_CASE("load_local_data: errors") {
  TempDir dir;
  write_text(dir.file("a.csv"), "f,label\n1,2\n");
  SUBCASE("unknown format lists the accepted ones") {
    const std::string e = data_error_of([&] { load_local_data({.path = dir.file("data.parquet")}); });
    CHECK(contains(e, dir.file("data.parquet") + ": unknown data format (from the file name) — accepted formats: "));
    CHECK(contains(e, std::string(kLocalDataFormats)));
    CHECK(contains(data_error_of([] { load_local_data({}); }), "no data file given — accepted formats: .csv"));
  }
  SUBCASE("labels file given where the format holds its own labels") {
    CHECK(contains(data_error_of([&] { load_local_data({.path = dir.file("a.csv"), .labels_path = "y.npy"}); }),
                   "is CSV, which holds its own labels: the labels file y.npy would be ignored"));
    CHECK(contains(data_error_of([&] { load_local_data({.path = dir.file("a.npz"), .labels_path = "y.npy"}); }),
                   "is a .npz archive, which holds its own labels"));
  }
  SUBCASE("labels file missing where the format needs one") {
    CHECK(contains(data_error_of([&] { load_local_data({.path = dir.file("x.npy")}); }),
                   "is a NumPy features array: give its labels file too"));
    CHECK(contains(data_error_of([&] { load_local_data({.path = dir.file("t10k-images-idx3-ubyte")}); }),
                   "is an IDX images file: give its labels file too (the matching *-labels-idx1-ubyte[.gz])"));
  }
  SUBCASE("gzipped npz") {
    CHECK(contains(data_error_of([&] { load_local_data({.path = dir.file("a.npz.gz")}); }),
                   "a gzipped .npz is not read — write it with np.savez_compressed"));
  }
}

// Files numpy itself writes: the hand-written bytes above could share a
// misreading of the format with the loader; numpy cannot.
TEST_CASE("numpy-written .npy, .npz (savez) and .npz (savez_compressed)") {
  TempDir dir;
  const std::string d = dir.path().string();
  const bool ran = run_python(
      "import numpy as np\n"
      "x = np.arange(24, dtype=np.float32).reshape(4, 2, 3) / 8\n"
      "y = np.array([3, 0, 1, 3], dtype=np.int64)\n"
      "np.save(\"" + d + "/x.npy\", x); np.save(\"" + d + "/y.npy\", y)\n"
      "np.save(\"" + d + "/x8.npy\", x.astype(np.float64)); np.save(\"" + d + "/u8.npy\", (x * 8).astype(np.uint8))\n"
      "np.savez(\"" + d + "/s.npz\", x=x, y=y.astype(np.uint8))\n"
      "np.savez_compressed(\"" + d + "/c.npz\", x=x, y=y.astype(np.int32), z=y)\n"
      "np.save(\"" + d + "/f.npy\", np.asfortranarray(x))\n"
      "np.save(\"" + d + "/be.npy\", x.astype(\">f4\"))\n");
  REQUIRE_MESSAGE(ran, "this test needs /usr/bin/python3 with numpy (apt-get install python3-numpy)");

  std::vector<float> expected(24);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<float>(i) / 8.0F;
  const std::vector<std::uint8_t> labels = {3, 0, 1, 3};
  for (const LocalDataSource& src : {LocalDataSource{.path = d + "/x.npy", .labels_path = d + "/y.npy"},
                                     LocalDataSource{.path = d + "/x8.npy", .labels_path = d + "/y.npy"},
                                     LocalDataSource{.path = d + "/s.npz"}, LocalDataSource{.path = d + "/c.npz"}}) {
    CAPTURE(src.path);
    const Dataset ds = load_local_data(src);
    CHECK(ds.rows == 4);
    CHECK(ds.cols == 6);
    CHECK(ds.sample_shape == std::vector<std::size_t>{2, 3});
    CHECK(ds.classes == 4);
    CHECK(floats_of(ds) == expected);
    CHECK(ds.labels == labels);
  }
  const Dataset u8 = load_npy(d + "/u8.npy", d + "/y.npy");
  REQUIRE(u8.stored_as_bytes());  // uint8 arrays stay bytes
  const std::vector<float> u8f = floats_of(u8);
  REQUIRE(u8f.size() == 24);
  for (std::size_t i = 0; i < u8f.size(); ++i) CHECK(u8f[i] == static_cast<float>(i) / 255.0F);
  CHECK(contains(data_error_of([&] { load_npy(d + "/f.npy", d + "/y.npy"); }), "fortran_order is True"));
  CHECK(contains(data_error_of([&] { load_npy(d + "/be.npy", d + "/y.npy"); }), "dtype '>f4' is big-endian"));
}

// sklearn's bundled CSVs, as Debian's python3-sklearn installs them:
//  * digits.csv.gz: no header; 65 columns, the last the label (0..9);
//  * breast_cancer.csv: a first line "569,30,malignant,benign" (counts and
//    class names, not column names), then 31 columns, the last the label.
// Both load with options, no preprocessing (docs/data-formats.md).
TEST_CASE("sklearn's digits.csv.gz and breast_cancer.csv") {
  const bool have = std::filesystem::exists(kSklearnData + "digits.csv.gz") &&
                    std::filesystem::exists(kSklearnData + "breast_cancer.csv");
  REQUIRE_MESSAGE(have, "needs " << kSklearnData << "{digits.csv.gz,breast_cancer.csv}: apt-get install python3-sklearn "
                                 << "(tools/install-deps.sh --test)");
  const Dataset digits =
      load_local_data({.path = kSklearnData + "digits.csv.gz", .csv = {.label = "#-1", .header = false}});
  CHECK(digits.rows == 1797);
  CHECK(digits.cols == 64);
  CHECK(digits.classes == 10);
  CHECK(std::set<std::uint8_t>(digits.labels.begin(), digits.labels.end()).size() == 10);
  CHECK(digits.features[2] == 5.0F);  // pixel values 0..16 kept as they are
  const Dataset cancer = load_local_data(
      {.path = kSklearnData + "breast_cancer.csv", .csv = {.label = "#-1", .header = false, .skip_lines = 1}});
  CHECK(cancer.rows == 569);
  CHECK(cancer.cols == 30);
  CHECK(cancer.classes == 2);
  CHECK(cancer.features[0] == 17.99F);
  CHECK(cancer.labels[0] == 0);
}
