// A board's own data: CSV, NumPy (.npy pair, .npz) and IDX files, behind one
// entry point, load_local_data. Formats in detail: docs/data-formats.md.
//
// Every loader returns a whole Dataset (rows >= 1) or throws DataError whose
// message names the file (and line/column, array or sample where there is
// one) and says what to do. Labels are integers 0..255 everywhere (uint8);
// classes = 1 + the largest label. Features:
//  * uint8 (IDX pixels, uint8 .npy arrays): kept as bytes (Dataset::bytes),
//    read as floats in [0, 1] as v / 255 (data::byte_values());
//  * everything else (CSV numbers, float32/float64 arrays): kept as floats
//    (float64 rounded to the nearest float), standardise them with federated
//    moments (core/data/moments.h). NaN and infinities are refused.
// Thread-safety: the loaders share no state; call them from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "core/data/dataset.h"

namespace signfed::data {

// How a CSV file is read.
//
// Layout: `skip_lines` lines are ignored first (e.g. sklearn's
// breast_cancer.csv starts with "569,30,malignant,benign"); then, if
// `header`, one row of column names; then one sample per line. Fields are
// separated by ',' with optional surrounding spaces/tabs; a field may be
// quoted ("a,b", "" for a quote) but may not span lines. Blank lines and
// trailing '\r' are ignored. Numbers are parsed with std::from_chars (no
// locale: the decimal point is always '.').
//
// The label column, `label`:
//  * empty (the default): the header column named "label", "target" or
//    "class" (exact, case-sensitive); exactly one of them must be present;
//  * a name: the header column with that name;
//  * "#N": column N counting from 0; "#-1" is the last column, "#-2" the one
//    before (the only form for a file without a header).
// The label field must be an integer 0..255 written without fraction or
// exponent ("3", not "3.0"); anything else is an error, so a regression target
// or a label column of class names is caught rather than truncated.
// Every other column is a feature and must be numeric.
struct CsvOptions {
  std::string label = {};
  bool header = true;
  std::size_t skip_lines = 0;
};

// Reads a CSV file, plain or gzip-compressed (detected from the content, so
// the name need not end in .gz).
Dataset load_csv(const std::string& path, const CsvOptions& options = {});

// Reads a .npy features array and a .npy labels array.
//  features: dtype float32 ('<f4'), float64 ('<f8') or uint8 ('|u1'), shape
//            (N, ...) in C order, each sample flattened (sample_shape =
//            shape[1:]; a 1-d array gives one feature per sample);
//  labels:   any integer dtype ('|i1' .. '<u8'), shape (N,), values 0..255.
// Little-endian only (a '>' dtype is refused: convert with
// a.astype(a.dtype.newbyteorder('<'))); fortran_order True is refused
// (np.ascontiguousarray). NPY versions 1.0, 2.0 and 3.0.
Dataset load_npy(const std::string& features_path, const std::string& labels_path);

// Reads a .npz archive (np.savez or np.savez_compressed: stored or deflated
// members) holding arrays named "x" (features) and "y" (labels), with the
// rules of load_npy. Other arrays are ignored.
Dataset load_npz(const std::string& path);

// Where a board's data lives. The format comes from the file name (after an
// optional ".gz"):
//   *.csv, *.csv.gz       CSV, options from `csv`; no labels_path
//   *.npy                 NumPy features; labels_path is the labels .npy
//   *.npz                 NumPy archive with x and y; no labels_path
//   *idx*, *ubyte*        IDX images (idx3-ubyte); labels_path is the
//                         idx1-ubyte labels file (e.g. train-images-idx3-ubyte.gz
//                         + train-labels-idx1-ubyte.gz)
// A labels_path where the format takes none (or none where it needs one) is
// an error rather than silently ignored.
struct LocalDataSource {
  std::string path = {};
  std::string labels_path = {};
  CsvOptions csv = {};
};

// The list above, for error messages and --help.
inline constexpr const char* kLocalDataFormats =
    ".csv, .csv.gz, .npy (+ labels .npy), .npz (arrays x, y), IDX (*idx3-ubyte[.gz] + *idx1-ubyte[.gz] labels)";

Dataset load_local_data(const LocalDataSource& source);

}  // namespace signfed::data
