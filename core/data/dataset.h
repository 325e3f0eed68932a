// Datasets and client partitions.
//
// A Dataset is immutable once loaded and may be shared read-only by many
// clients in one process (simulation): hold it by std::shared_ptr<const Dataset>.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/packed_rows.h"
#include "core/data/standardise.h"

namespace signfed::data {

// Thrown for missing/corrupt files and bad specs; what() says what to do.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The float a stored byte stands for: v / 255 in float arithmetic (correctly
// rounded, the same on every ISA), so byte 255 is exactly 1.0f. Every loader
// and every gather uses this one table: the value a model sees is the same
// whether the dataset keeps bytes or floats.
const std::array<float, 256>& byte_values();

// A dataset's features are kept in the type they were stored in (issue 13
// item 5: a board holds 1 byte per pixel, not 4):
//  * bytes (IDX images, uint8 .npy/.npz): `bytes` holds rows*cols values,
//    `features` is empty; the float value of byte v is byte_values()[v], in
//    [0, 1];
//  * floats (CSV, float32/float64 arrays, or a widened dataset): `features`
//    holds rows*cols values as stored, `bytes` is empty;
//  * packed bytes (an edge's IDX shard, PixelStorage::packed): `packed` holds
//    each row as 2-bit codes of its groups of 8 bytes (all zero, all nonzero,
//    mixed), a bitmap per mixed group and the nonzero bytes
//    (core/data/packed_rows.h); `bytes` and `features` are empty.
// All row-major. Read a row as floats with row(); widen() converts a whole
// dataset to floats (the coordinator's test set, which is evaluated in one
// contiguous batch).
struct Dataset {
  std::size_t rows = 0;       // samples
  std::size_t cols = 0;       // features per sample (28*28 = 784 for MNIST-like)
  std::size_t classes = 0;    // 1 + max label
  std::vector<float> features;       // rows*cols, row-major, when stored as floats
  std::vector<std::uint8_t> bytes;   // rows*cols, row-major, when stored as bytes
  PackedRows packed;                 // rows, when stored as packed bytes
  std::vector<std::uint8_t> labels;  // rows, each < classes
  // Shape of one sample before flattening, C order (product == cols): {28, 28}
  // for IDX images, shape[1:] of a .npy. Empty means {cols} (CSV rows), so a
  // model check can name the data's shape next to the model's.
  std::vector<std::size_t> sample_shape;

  // True when the features are kept as bytes, plain (see above).
  bool stored_as_bytes() const { return !bytes.empty(); }
  // True when they are kept as packed bytes.
  bool stored_packed() const { return packed.rows() > 0; }
  // Writes the float values of row r (< rows) into out (size cols): scaled
  // bytes (plain or packed) or the stored floats. Allocates nothing.
  void row(std::size_t r, std::span<float> out) const {
    const std::size_t off = r * cols;
    if (stored_packed()) {
      packed.expand(r, byte_values(), out);
    } else if (stored_as_bytes()) {
      const std::array<float, 256>& v = byte_values();
      const std::uint8_t* src = bytes.data() + off;
      for (std::size_t c = 0; c < cols; ++c) out[c] = v[src[c]];
    } else {
      const float* src = features.data() + off;
      for (std::size_t c = 0; c < cols; ++c) out[c] = src[c];
    }
  }
};

// Converts a bytes dataset to floats in place (features = the scaled bytes,
// bytes freed); a floats dataset is left as it is.
void widen(Dataset& ds);
// The rows `rows` (each < ds.rows) of ds, in that order, in ds's storage form.
Dataset select_rows(const Dataset& ds, std::span<const std::uint32_t> rows);

// Chooses which rows to keep, from all labels and the class count; returns
// sorted row indices. Used to load only a client's shard.
using RowSelector = std::function<std::vector<std::uint32_t>(const std::vector<std::uint8_t>& labels,
                                                             std::size_t classes)>;

// How a loader keeps byte pixels: as they are, or packed (packed_rows.h; an
// edge's shard: about 0.6 of the memory for Fashion-MNIST).
enum class PixelStorage { plain, packed };

// Loads an IDX image file (idx3, ubyte) and its IDX label file (idx1, ubyte);
// either may be gzip-compressed (.gz). With a selector only the selected rows
// are kept (in order; classes still counts every label), and pixels are
// streamed, so memory is proportional to the rows kept. Throws DataError
// naming the file and, for the default location, the Debian package to install.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, const RowSelector& select = {},
                 PixelStorage storage = PixelStorage::plain);

enum class Split { train, test };
// Default dir: /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
Dataset load_fashion_mnist(std::string_view dir, Split split, const RowSelector& select = {},
                           PixelStorage storage = PixelStorage::plain);
// The IDX file load_fashion_mnist reads for a split (images or labels), .gz
// preferred. Throws DataError naming it (and the Debian package) when missing.
std::string idx_file(std::string_view dir, Split split, bool labels);

// Per-dataset standardisation of the training images in dir (the train split
// load_fashion_mnist reads): mean and population standard deviation of every
// pixel of every image, on the [0,1] scale the loader produces, computed
// exactly from a 256-bin histogram while streaming (no image is kept).
// Fashion-MNIST: mean 0.2860, std 0.3530. Throws DataError as the loader, or
// when every pixel has the same value.
Standardisation train_pixel_statistics(std::string_view dir);

// How a dataset is split between clients. Text form (parse_partition):
//   "iid" | "class1" | "halves" | "shards:C" | "dirichlet:ALPHA" | "quantity:SIGMA"
struct PartitionSpec {
  std::string scheme = "iid";
  double param = 0.0;              // C, ALPHA or SIGMA
  std::uint32_t num_clients = 1;
  std::uint64_t seed = 0;
  std::size_t min_size = 10;       // dirichlet/quantity: resample until every client has this many (at least 1)
};
PartitionSpec parse_partition(std::string_view text, std::uint32_t num_clients, std::uint64_t seed);

// Sample indices of every client (size num_clients), each sorted ascending.
// Deterministic in (labels, spec). Throws DataError when the scheme cannot be
// satisfied (e.g. class1 with more clients than classes... is allowed: classes
// are reused round-robin and split evenly).
// No client is ever left empty (DataError instead). iid/shards/dirichlet/quantity
// assign every sample exactly once; class1/halves leave a class (half) unused
// when no client holds it. Draws come from data/rng.h (bit-identical on every
// platform); class1/halves with one client per class (half) ignore the seed.
std::vector<std::vector<std::uint32_t>> partition(const std::vector<std::uint8_t>& labels, std::size_t classes,
                                                  const PartitionSpec& spec);

// One line per client: "client 3: 6000 samples, classes {3:6000}" style summary.
std::string describe_partition(const std::vector<std::vector<std::uint32_t>>& parts,
                               const std::vector<std::uint8_t>& labels, std::size_t classes);

}  // namespace signfed::data
