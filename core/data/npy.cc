// NumPy loaders (contract in local_data.h): a .npy pair, or x and y in a .npz.
//
// NPY format (numpy.lib.format), all integers little-endian:
//   magic "\x93NUMPY", major version byte, minor version byte;
//   header length: uint16 (v1.0) or uint32 (v2.0, v3.0);
//   header: a Python dict literal, e.g.
//     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//   padded with spaces to a multiple of 64 bytes and ended by '\n';
//   data: product(shape) items of the dtype, C order, nothing after.
// .npz is a zip archive of NAME.npy members (stored by np.savez, deflated by
// np.savez_compressed), read with zlib alone (zip_reader.h).
//
// Values are assembled from little-endian bytes explicitly, so the loader is
// correct on a big-endian host too.
#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/file_bytes.h"
#include "core/data/local_data.h"
#include "core/data/zip_reader.h"

namespace signfed::data {
namespace {

std::string_view chars(const std::vector<std::uint8_t>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct NpyArray {
  char kind = 0;              // 'f', 'u', 'i', 'b', ... (numpy dtype kind)
  std::size_t itemsize = 0;   // bytes
  std::string descr;          // as in the file, for messages
  std::vector<std::size_t> shape;
  std::string_view data;      // product(shape) * itemsize bytes
  std::size_t count() const {
    std::size_t n = 1;
    for (const std::size_t d : shape) n *= d;
    return n;
  }
};

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

std::uint64_t le(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// The text after "'key':" in the header dict (leading spaces skipped).
std::string_view header_value(std::string_view header, std::string_view key, const std::string& name) {
  std::string quoted(1, '\'');  // built with append: GCC 12's -Wrestrict misfires on "'" + std::string
  quoted.append(key).push_back('\'');
  const std::size_t k = header.find(quoted);
  const std::size_t colon = k == std::string_view::npos ? k : header.find(':', k + quoted.size());
  if (colon == std::string_view::npos) {
    throw DataError(name + ": the .npy header has no " + quoted + " — not a file numpy.save wrote");
  }
  std::string_view v = header.substr(colon + 1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return v;
}

// Parses the header and locates the data of the .npy in `bytes`. `name`
// says which file (or archive member) for messages.
NpyArray parse_npy(std::string_view bytes, const std::string& name) {
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  if (bytes.substr(0, 6) != kMagic) throw DataError(name + ": not a .npy file (no \\x93NUMPY magic) — write it with numpy.save");
  if (bytes.size() < 10) throw DataError(name + ": truncated .npy header — re-create the file");
  const int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3) {
    throw DataError(name + ": NPY format version " + std::to_string(major) + " is not supported (1, 2, 3 are)");
  }
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) throw DataError(name + ": truncated .npy header — re-create the file");
  const std::size_t header_len = le(bytes.data() + 8, len_bytes);
  const std::size_t start = 8 + len_bytes;
  if (bytes.size() - start < header_len) throw DataError(name + ": truncated .npy header — re-create the file");
  const std::string_view header = bytes.substr(start, header_len);

  NpyArray a;
  std::string_view descr = header_value(header, "descr", name);
  if (descr.empty() || (descr.front() != '\'' && descr.front() != '"')) {
    throw DataError(name + ": structured dtype " + std::string(descr.substr(0, descr.find('}'))) +
                    " is not supported — save a plain numeric array");
  }
  const std::size_t close = descr.find(descr.front(), 1);
  if (close == std::string_view::npos) throw DataError(name + ": malformed 'descr' in the .npy header");
  a.descr = descr.substr(1, close - 1);
  if (a.descr.size() < 3) throw DataError(name + ": unsupported dtype '" + a.descr + "'");
  if (a.descr[0] == '>') {
    throw DataError(name + ": dtype '" + a.descr +
                    "' is big-endian; only little-endian is read — convert with a.astype(a.dtype.newbyteorder('<'))");
  }
  if (a.descr[0] != '<' && a.descr[0] != '|' && a.descr[0] != '=') {
    throw DataError(name + ": unsupported dtype '" + a.descr + "'");
  }
  a.kind = a.descr[1];
  const std::string size_text = a.descr.substr(2);
  if (size_text != "1" && size_text != "2" && size_text != "4" && size_text != "8") {
    throw DataError(name + ": unsupported dtype '" + a.descr + "'");
  }
  a.itemsize = static_cast<std::size_t>(std::stoi(size_text));

  const std::string_view fortran = header_value(header, "fortran_order", name);
  if (fortran.substr(0, 4) == "True") {
    throw DataError(name + ": fortran_order is True (column-major); only C order is read — save "
                           "np.ascontiguousarray(a) instead");
  }
  if (fortran.substr(0, 5) != "False") throw DataError(name + ": malformed 'fortran_order' in the .npy header");

  std::string_view shape = header_value(header, "shape", name);
  if (shape.empty() || shape.front() != '(' || shape.find(')') == std::string_view::npos) {
    throw DataError(name + ": malformed 'shape' in the .npy header");
  }
  shape = shape.substr(1, shape.find(')') - 1);
  while (!shape.empty()) {
    while (!shape.empty() && (shape.front() == ' ' || shape.front() == ',')) shape.remove_prefix(1);
    if (shape.empty()) break;
    std::size_t d = 0;
    const auto [ptr, ec] = std::from_chars(shape.data(), shape.data() + shape.size(), d);
    if (ec != std::errc{}) throw DataError(name + ": malformed 'shape' in the .npy header");
    a.shape.push_back(d);
    shape.remove_prefix(static_cast<std::size_t>(ptr - shape.data()));
  }
  std::size_t total = a.itemsize;
  for (const std::size_t d : a.shape) {
    if (__builtin_mul_overflow(total, d, &total)) throw DataError(name + ": shape overflows — corrupt header");
  }
  const std::string_view data = bytes.substr(start + header_len);
  if (data.size() < total) {
    throw DataError(name + ": truncated: shape " + shape_text(a.shape) + " of " + a.descr + " needs " +
                    std::to_string(total) + " data bytes, the file has " + std::to_string(data.size()) +
                    " — re-create the file");
  }
  if (data.size() > total) {
    throw DataError(name + ": " + std::to_string(data.size() - total) + " bytes follow the " + std::to_string(total) +
                    " data bytes of shape " + shape_text(a.shape) + " — corrupt file");
  }
  a.data = data;
  return a;
}

// Features into ds (rows, cols, sample_shape, features or bytes). With
// `storage` (the buffer x was parsed from), uint8 data becomes ds.bytes in
// place: moved to the front of that buffer, not copied into a second one
// (loading then peaks at one copy of the pixels, not two).
void take_features(const NpyArray& x, const std::string& name, Dataset& ds,
                   std::vector<std::uint8_t>* storage = nullptr) {
  if (x.shape.empty() || x.shape[0] == 0) {
    throw DataError(name + ": features of shape " + shape_text(x.shape) + " hold no samples — expected (N, ...), N >= 1");
  }
  ds.rows = x.shape[0];
  ds.sample_shape.assign(x.shape.begin() + 1, x.shape.end());
  ds.cols = x.count() / ds.rows;
  if (ds.cols == 0) throw DataError(name + ": features of shape " + shape_text(x.shape) + " have no values per sample");
  const std::size_t n = x.count();
  const char* p = x.data.data();
  if (x.kind == 'u' && x.itemsize == 1 && storage != nullptr) {
    const auto offset = static_cast<std::size_t>(p - reinterpret_cast<const char*>(storage->data()));
    std::memmove(storage->data(), storage->data() + offset, n);  // parse_npy: nothing follows the data
    storage->resize(n);
    ds.bytes = std::move(*storage);
    return;
  }
  if (x.kind == 'u' && x.itemsize == 1) {  // kept as bytes, scaled by byte_values() when gathered
    ds.bytes.assign(reinterpret_cast<const std::uint8_t*>(p), reinterpret_cast<const std::uint8_t*>(p) + n);
    return;
  }
  ds.features.resize(n);
  if (x.kind == 'f' && (x.itemsize == 4 || x.itemsize == 8)) {
    for (std::size_t i = 0; i < n; ++i) {
      float v = 0.0F;
      bool finite = true;
      if (x.itemsize == 4) {
        v = std::bit_cast<float>(static_cast<std::uint32_t>(le(p + 4 * i, 4)));
        finite = std::isfinite(v);
      } else {
        const double d = std::bit_cast<double>(le(p + 8 * i, 8));
        // Range checked before the cast: a double beyond float range converts with undefined behaviour.
        finite = std::fabs(d) <= double{std::numeric_limits<float>::max()};
        if (finite) v = static_cast<float>(d);
      }
      if (!finite) {
        throw DataError(name + ": value " + std::to_string(i) + " (sample " + std::to_string(i / ds.cols) +
                        ") is not finite (NaN, infinity, or beyond float range) — fill in or drop such samples");
      }
      ds.features[i] = v;
    }
    return;
  }
  throw DataError(name + ": features dtype '" + x.descr +
                  "' is not supported — use float32, float64 or uint8 (e.g. a.astype(np.float32))");
}

// Labels into ds (labels, classes); ds.rows already set from the features.
void take_labels(const NpyArray& y, const std::string& name, Dataset& ds) {
  if ((y.kind != 'i' && y.kind != 'u') || y.shape.size() != 1 || y.shape[0] != ds.rows) {
    const bool dtype_ok = y.kind == 'i' || y.kind == 'u';
    throw DataError(name + ": labels must be integers of shape (" + std::to_string(ds.rows) + ",) to match the " +
                    std::to_string(ds.rows) + " samples; got " + (dtype_ok ? "" : "dtype '" + y.descr + "' ") +
                    "shape " + shape_text(y.shape) + " — save a 1-d integer array (e.g. y.astype(np.int64))");
  }
  ds.labels.resize(ds.rows);
  std::size_t max_label = 0;
  for (std::size_t i = 0; i < ds.rows; ++i) {
    const std::uint64_t raw = le(y.data.data() + i * y.itemsize, y.itemsize);
    const bool negative = y.kind == 'i' && (raw >> (8 * y.itemsize - 1)) != 0;
    if (negative || raw > 255) {
      const std::string text = negative ? "a negative value" : std::to_string(raw);
      throw DataError(name + ": label of sample " + std::to_string(i) + " is " + text +
                      "; labels must be class numbers 0..255");
    }
    ds.labels[i] = static_cast<std::uint8_t>(raw);
    max_label = std::max<std::size_t>(max_label, raw);
  }
  ds.classes = max_label + 1;
}

}  // namespace

Dataset load_npy(const std::string& features_path, const std::string& labels_path) {
  const std::string xb = read_file_bytes(features_path);
  const std::string yb = read_file_bytes(labels_path);
  Dataset ds;
  take_features(parse_npy(xb, features_path), features_path, ds);
  take_labels(parse_npy(yb, labels_path), labels_path, ds);
  return ds;
}

Dataset load_npz(const std::string& path) {
  ZipArchive zip(path);
  std::string found;
  const ZipMember* mx = nullptr;
  const ZipMember* my = nullptr;
  for (const ZipMember& m : zip.members()) {  // a repeated name: the last wins, as in Python's zipfile
    std::string array = m.name;
    if (array.size() > 4 && array.ends_with(".npy")) array.resize(array.size() - 4);
    found += (found.empty() ? "" : ", ") + array;
    if (array == "x") mx = &m;
    if (array == "y") my = &m;
  }
  if (mx == nullptr || my == nullptr) {
    throw DataError(path + ": no array named '" + std::string(mx == nullptr ? "x" : "y") + "' (arrays found: " +
                    (found.empty() ? "none" : found) + ") — save with np.savez(path, x=features, y=labels)");
  }
  const std::string xname = path + ":x.npy";
  const std::string yname = path + ":y.npy";
  Dataset ds;
  {
    std::vector<std::uint8_t> xb = zip.read(*mx, xname);  // uint8 pixels: becomes ds.bytes; else freed here
    take_features(parse_npy(chars(xb), xname), xname, ds, &xb);
  }
  const std::vector<std::uint8_t> yb = zip.read(*my, yname);
  take_labels(parse_npy(chars(yb), yname), yname, ds);
  return ds;
}

}  // namespace signfed::data
