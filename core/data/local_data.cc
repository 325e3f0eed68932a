// load_local_data: picks the loader from the file name (contract in local_data.h).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "core/data/dataset.h"
#include "core/data/local_data.h"

namespace signfed::data {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Dataset load_local_data(const LocalDataSource& source) {
  if (source.path.empty()) throw DataError(std::string("no data file given — accepted formats: ") + kLocalDataFormats);
  // Only the file name decides (a directory called "idx" must not make a CSV an IDX file).
  std::string name = lower(std::filesystem::path(source.path).filename().string());
  const bool gz = name.ends_with(".gz");
  if (gz) name.resize(name.size() - 3);
  const bool has_labels = !source.labels_path.empty();
  auto no_labels_file = [&](const char* format) {
    if (has_labels) {
      throw DataError(source.path + " is " + format + ", which holds its own labels: the labels file " +
                      source.labels_path + " would be ignored — drop it");
    }
  };
  auto need_labels_file = [&](const char* format, const char* what) {
    if (!has_labels) throw DataError(source.path + " is " + format + ": give its labels file too (" + what + ")");
  };

  if (name.ends_with(".csv")) {
    no_labels_file("CSV");
    return load_csv(source.path, source.csv);
  }
  if (name.ends_with(".npz")) {
    if (gz) throw DataError(source.path + ": a gzipped .npz is not read — write it with np.savez_compressed instead");
    no_labels_file("a .npz archive");
    return load_npz(source.path);
  }
  if (name.ends_with(".npy")) {
    need_labels_file("a NumPy features array", "a 1-d integer .npy");
    return load_npy(source.path, source.labels_path);
  }
  if (name.find("idx") != std::string::npos || name.find("ubyte") != std::string::npos) {
    need_labels_file("an IDX images file", "the matching *-labels-idx1-ubyte[.gz]");
    return load_idx(source.path, source.labels_path);
  }
  throw DataError(source.path + ": unknown data format (from the file name) — accepted formats: " + kLocalDataFormats);
}

}  // namespace signfed::data
