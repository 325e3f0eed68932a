// IDX file loader (the MNIST / Fashion-MNIST format).
//
// Format (all integers big-endian):
//   magic: 2 zero bytes, type byte (0x08 = unsigned byte), number of dims byte
//   dims:  one uint32 per dimension
//   data:  product(dims) bytes, row-major
// Images are 0x00000803 (count, rows, cols); labels are 0x00000801 (count).
// zlib's gz* functions read gzip and plain files alike, so .gz is optional.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "core/data/dataset.h"

namespace signfed::data {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;

const char* const kInstallHint =
    "install it with: apt-get install dataset-fashion-mnist (or pass --data DIR with IDX files)";

struct GzCloser {
  void operator()(gzFile_s* f) const noexcept { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

GzFile open_gz(const std::string& path) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    const std::string why = err != 0 ? std::generic_category().message(err) : "out of memory";
    throw DataError("cannot open " + path + ": " + why + " — " + kInstallHint);
  }
  gzbuffer(f, 1U << 18);  // bigger input buffer: fewer read() calls (must precede the first read)
  return GzFile(f);
}

// Reads up to n bytes; fewer only at end of file. Throws on I/O or gzip errors.
std::size_t read_bytes(gzFile f, const std::string& path, unsigned char* dst, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, std::size_t{1} << 30));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      const std::string why = errnum == Z_ERRNO ? std::generic_category().message(errno)
                                                : std::string("corrupt gzip data (") + msg + ")";
      throw DataError(path + ": " + why + " — re-download or reinstall the file");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::string hex32(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x00000000";
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(9 - i)] = kDigits[(v >> (4 * i)) & 0xF];
  return s;
}

std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | std::uint32_t{p[3]};
}

// Reads and checks the magic, then the dimensions; returns the dimensions.
std::vector<std::uint32_t> read_header(gzFile f, const std::string& path, std::uint32_t magic) {
  const std::size_t ndims = magic & 0xFF;
  std::array<unsigned char, 4 * 4> buf{};
  const std::size_t want = 4 * (1 + ndims);
  auto truncated = [&](std::size_t got) {
    return DataError(path + ": truncated: expected a " + std::to_string(want) + "-byte IDX header, got " +
                     std::to_string(got) + " bytes — re-download or reinstall the file");
  };
  // Magic first, so a wrong kind of file is named as such even when it is short.
  std::size_t got = read_bytes(f, path, buf.data(), 4);
  if (got < 4) throw truncated(got);
  const std::uint32_t found = be32(buf.data());
  if (found != magic) {
    const char* what = magic == kImagesMagic ? "IDX unsigned-byte images, 3 dims" : "IDX unsigned-byte labels, 1 dim";
    std::string hint = " — not an IDX file of that kind";
    if (found == kImagesMagic || found == kLabelsMagic) hint = " — this is the other file of the pair: are the image and label paths swapped?";
    throw DataError(path + ": bad magic " + hex32(found) + ", expected " + hex32(magic) + " (" + what + ")" + hint);
  }
  got += read_bytes(f, path, buf.data() + 4, want - 4);
  if (got < want) throw truncated(got);
  std::vector<std::uint32_t> dims(ndims);
  for (std::size_t i = 0; i < ndims; ++i) {
    dims[i] = be32(buf.data() + 4 * (1 + i));
    if (dims[i] == 0) throw DataError(path + ": dimension " + std::to_string(i) + " is 0 — the file holds no data");
  }
  return dims;
}

// Reads exactly n payload bytes and checks nothing follows them. Grows the
// buffer as data arrives, so a corrupt header claiming terabytes fails as
// "truncated" rather than as an allocation failure.
std::vector<std::uint8_t> read_payload(gzFile f, const std::string& path, std::uint64_t n, const char* what) {
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, std::uint64_t{1} << 28)));
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  while (out.size() < n) {
    const std::size_t old = out.size();
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(n - old, kChunk));
    out.resize(old + want);
    const std::size_t got = read_bytes(f, path, out.data() + old, want);
    if (got < want) {
      throw DataError(path + ": truncated: expected " + std::to_string(n) + " " + what + " bytes, got " +
                      std::to_string(old + got) + " — re-download or reinstall the file");
    }
  }
  unsigned char extra = 0;
  if (read_bytes(f, path, &extra, 1) != 0) {
    throw DataError(path + ": data continues after the " + std::to_string(n) + " " + what +
                    " bytes the header declares — corrupt header or not an IDX file");
  }
  return out;
}

// count * a * b with overflow detection.
std::uint64_t checked_product(const std::vector<std::uint32_t>& dims, const std::string& path) {
  std::uint64_t p = 1;
  for (const std::uint32_t d : dims) {
    if (__builtin_mul_overflow(p, std::uint64_t{d}, &p)) throw DataError(path + ": dimensions overflow — corrupt header");
  }
  return p;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, const RowSelector& select,
                 PixelStorage storage) {
  const GzFile images = open_gz(images_path);
  const GzFile labels = open_gz(labels_path);
  const std::vector<std::uint32_t> image_dims = read_header(images.get(), images_path, kImagesMagic);
  const std::vector<std::uint32_t> label_dims = read_header(labels.get(), labels_path, kLabelsMagic);
  // Check the pairing before reading 47 MB of pixels.
  if (image_dims[0] != label_dims[0]) {
    throw DataError(images_path + " holds " + std::to_string(image_dims[0]) + " images but " + labels_path +
                    " holds " + std::to_string(label_dims[0]) + " labels — are they from the same split?");
  }
  const std::uint64_t total = checked_product(image_dims, images_path);
  const std::vector<std::uint8_t> all_labels = read_payload(labels.get(), labels_path, label_dims[0], "label");
  // Labels are unsigned bytes, so < 256 by construction.
  const std::size_t classes = all_labels.empty()
                                  ? 0
                                  : std::size_t{*std::max_element(all_labels.begin(), all_labels.end())} + 1;
  const std::size_t rows = image_dims[0];
  const std::size_t cols = static_cast<std::size_t>(total / std::max<std::size_t>(rows, 1));

  std::vector<std::uint32_t> keep;
  if (select) {
    keep = select(all_labels, classes);
    if (!std::is_sorted(keep.begin(), keep.end()) || (!keep.empty() && keep.back() >= rows))
      throw DataError("row selection for " + images_path + " must be sorted indices below " + std::to_string(rows));
  }

  Dataset ds;
  ds.cols = cols;
  ds.sample_shape.assign(image_dims.begin() + 1, image_dims.end());
  ds.classes = classes;
  ds.rows = select ? keep.size() : rows;
  // Pixels stay bytes (1 byte each; byte_values() scales them when a batch is
  // gathered), packed as they arrive when asked: the packed buffer is reserved
  // for the worst case (address space: only the pages written become resident),
  // so it never grows by copying, and no plain copy is ever held.
  const bool pack = storage == PixelStorage::packed;
  if (pack) {
    ds.packed.cols = cols;
    ds.packed.data.reserve(ds.rows * PackedRows::max_row_bytes(cols) + 1);
    ds.packed.at.reserve(ds.rows);
  } else {
    ds.bytes.reserve(ds.rows * cols);
  }
  ds.labels.reserve(ds.rows);

  // Stream the pixels a block of rows at a time and keep only the selected
  // rows: a client holding a 6,000-sample shard never has the whole set in memory.
  const std::size_t block_rows = std::max<std::size_t>(1, (std::size_t{1} << 20) / std::max<std::size_t>(cols, 1));
  std::vector<std::uint8_t> block(block_rows * cols);
  std::size_t next_keep = 0;
  for (std::size_t r0 = 0; r0 < rows; r0 += block_rows) {
    const std::size_t n = std::min(block_rows, rows - r0);
    const std::size_t got = read_bytes(images.get(), images_path, block.data(), n * cols);
    if (got < n * cols) {
      throw DataError(images_path + ": truncated: expected " + std::to_string(total) + " pixel bytes, got " +
                      std::to_string(r0 * cols + got) + " — re-download or reinstall the file");
    }
    for (std::size_t r = r0; r < r0 + n; ++r) {
      if (select) {
        if (next_keep >= keep.size() || keep[next_keep] != r) continue;
        ++next_keep;
      }
      const std::uint8_t* px = block.data() + (r - r0) * cols;
      if (pack) ds.packed.append(px);
      else ds.bytes.insert(ds.bytes.end(), px, px + cols);
      ds.labels.push_back(all_labels[r]);
    }
  }
  unsigned char extra = 0;
  if (read_bytes(images.get(), images_path, &extra, 1) != 0) {
    throw DataError(images_path + ": data continues after the " + std::to_string(total) +
                    " pixel bytes the header declares — corrupt header or not an IDX file");
  }
  return ds;
}

std::string idx_file(std::string_view dir, Split split, bool labels) {
  const std::string name = std::string(split == Split::train ? "train" : "t10k") +
                           (labels ? "-labels-idx1-ubyte" : "-images-idx3-ubyte");
  const std::string base = (std::filesystem::path(dir) / name).string();
  std::error_code ec;
  if (std::filesystem::exists(base + ".gz", ec)) return base + ".gz";
  if (std::filesystem::exists(base, ec)) return base;
  throw DataError("cannot open " + base + ".gz (nor " + base + "): No such file or directory — " + kInstallHint);
}

Dataset load_fashion_mnist(std::string_view dir, Split split, const RowSelector& select, PixelStorage storage) {
  const std::string images = idx_file(dir, split, false);  // named first when both are missing
  const std::string labels = idx_file(dir, split, true);
  return load_idx(images, labels, select, storage);
}

Standardisation train_pixel_statistics(std::string_view dir) {
  const std::string path = idx_file(dir, Split::train, false);
  const GzFile images = open_gz(path);
  const std::uint64_t total = checked_product(read_header(images.get(), path, kImagesMagic), path);
  std::array<std::uint64_t, 256> hist{};
  std::vector<std::uint8_t> block(std::size_t{1} << 20);
  std::uint64_t seen = 0;
  while (seen < total) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), total - seen));
    const std::size_t got = read_bytes(images.get(), path, block.data(), want);
    if (got < want)
      throw DataError(path + ": truncated: expected " + std::to_string(total) + " pixel bytes, got " +
                      std::to_string(seen + got) + " — re-download or reinstall the file");
    for (std::size_t i = 0; i < got; ++i) ++hist[block[i]];
    seen += got;
  }
  // Two exact passes over the histogram, on the loader's v/255 scale.
  double mean = 0.0;
  for (std::size_t v = 0; v < hist.size(); ++v) mean += static_cast<double>(hist[v]) * (static_cast<double>(v) / 255.0);
  mean /= static_cast<double>(std::max<std::uint64_t>(total, 1));
  double var = 0.0;
  for (std::size_t v = 0; v < hist.size(); ++v) {
    const double d = static_cast<double>(v) / 255.0 - mean;
    var += static_cast<double>(hist[v]) * d * d;
  }
  var /= static_cast<double>(std::max<std::uint64_t>(total, 1));
  if (!(var > 0.0))
    throw DataError(path + ": every pixel has the same value; nothing to standardise (pass --no-standardise)");
  return {true, static_cast<float>(mean), static_cast<float>(std::sqrt(var))};
}

}  // namespace signfed::data
