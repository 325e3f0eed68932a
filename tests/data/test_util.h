// Helpers shared by the data tests: a temporary directory, IDX, text and .npy
// writers, the DataError catcher, and
// the skip when the real dataset is not installed.
#pragma once

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/data/dataset.h"

namespace signfed::data::testing {

// A fresh directory under $TMPDIR (mkdtemp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "signfed-data-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// Header (magic + dims) followed by payload.
inline std::vector<std::uint8_t> idx_bytes(std::uint32_t magic, const std::vector<std::uint32_t>& dims,
                                           const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out;
  put_be32(out, magic);
  for (const auto d : dims) put_be32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Writes bytes raw, or gzip-compressed with zlib when gz is true.
inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, bool gz) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("gzopen " + path);
    const int n = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    if (gzclose(f) != Z_OK || n != static_cast<int>(bytes.size())) throw std::runtime_error("gzwrite " + path);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("write " + path);
  }
}

inline void write_text(const std::string& path, const std::string& text, bool gz = false) {
  write_file(path, std::vector<std::uint8_t>(text.begin(), text.end()), gz);
}

// A .npy file (format 1.0 unless major says otherwise): magic, version,
// header dict padded to a multiple of 64 bytes, then payload.
inline std::vector<std::uint8_t> npy_bytes(const std::string& descr, const std::string& shape,
                                           const std::vector<std::uint8_t>& payload, bool fortran = false,
                                           int major = 1) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  for (std::size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Little-endian bytes of values (float, double or integers).
template <class T>
std::vector<std::uint8_t> le_bytes(const std::vector<T>& values) {
  std::vector<std::uint8_t> out;
  for (const T v : values) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  }
  return out;
}

// Runs f, which must throw DataError, and returns its message.
template <class F>
std::string data_error_of(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  FAIL("expected DataError");
  return {};
}

// Fails the calling test case unless Debian's Fashion-MNIST (kFashionMnistDir)
// is installed: a missing dataset is a broken setup, never a pass.
inline void require_fashion_mnist() {
  REQUIRE_MESSAGE(std::filesystem::is_directory(kFashionMnistDir),
                  kFashionMnistDir << " is missing: apt-get install dataset-fashion-mnist (tools/install-deps.sh --test)");
}

// Every feature of ds as the float a model sees (scaled bytes or stored floats).
inline std::vector<float> floats_of(const Dataset& ds) {
  Dataset copy = ds;
  widen(copy);
  return copy.features;
}

}  // namespace signfed::data::testing
