// Datasets and client partitions.
//
// A Dataset is immutable once loaded and may be shared read-only by many
// clients in one process (simulation): hold it by std::shared_ptr<const Dataset>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/standardise.h"

namespace signfed::data {

// Thrown for missing/corrupt files and bad specs; what() says what to do.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Dataset {
  std::size_t rows = 0;       // samples
  std::size_t cols = 0;       // features per sample (28*28 = 784 for MNIST-like)
  std::size_t classes = 0;    // 1 + max label
  std::vector<float> features;       // rows*cols, row-major; pixels (uint8) scaled to [0,1], floats as stored
  std::vector<std::uint8_t> labels;  // rows, each < classes
  // Shape of one sample before flattening, C order (product == cols): {28, 28}
  // for IDX images, shape[1:] of a .npy. Empty means {cols} (CSV rows), so a
  // model check can name the data's shape next to the model's.
  std::vector<std::size_t> sample_shape;
};

// Chooses which rows to keep, from all labels and the class count; returns
// sorted row indices. Used to load only a client's shard.
using RowSelector = std::function<std::vector<std::uint32_t>(const std::vector<std::uint8_t>& labels,
                                                             std::size_t classes)>;

// Loads an IDX image file (idx3, ubyte) and its IDX label file (idx1, ubyte);
// either may be gzip-compressed (.gz). With a selector only the selected rows
// are kept (in order; classes still counts every label), and pixels are
// streamed, so memory is proportional to the rows kept. Throws DataError
// naming the file and, for the default location, the Debian package to install.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, const RowSelector& select = {});

enum class Split { train, test };
// Default dir: /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
Dataset load_fashion_mnist(std::string_view dir, Split split, const RowSelector& select = {});
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
