// Whole-file reads for the loaders that parse from memory (CSV, .npy).
//
// zlib's gz* functions read gzip and plain files alike, so a file is
// decompressed when it is gzip whatever its name. The result holds the whole
// (decompressed) file: memory is proportional to its size. Thread-safe.
#pragma once

#include <string>

namespace signfed::data {

// The bytes of `path`, gunzipped if gzip. Throws DataError naming the file
// (cannot open, read error, corrupt gzip).
std::string read_file_bytes(const std::string& path);

}  // namespace signfed::data
