// The edge client's --state file: the encoder's error-feedback memory (s3gd,
// efsign; core/methods/encoder.h), kept across restarts of the client.
//
// Format, version 1 (also in schema/FORMAT.md, "Edge state file"). Every
// number is little-endian; the file is exactly 20 + 4*dim bytes.
//
//   offset  size   field
//   0       4      magic "SFEM" (0x53 0x46 0x45 0x4d)
//   4       4      version, u32 = 1
//   8       4      dim, u32: number of floats (the model's parameter count)
//   12      4      round, u32: the round of the last update sent with this memory
//   16      4*dim  the memory, IEEE-754 float32
//   16+4dim 4      CRC-32 (zlib's crc32, ISO-HDLC polynomial) of bytes [0, 16+4dim)
//
// Writes are atomic: PATH.tmp is written, fsync'd, renamed over PATH (the
// rename is checked), and PATH's directory is fsync'd, so a crash leaves the
// old file or the new one, never a torn one. A file that is truncated, too
// long, of another version or dim, or fails its CRC is refused as a whole.
//
// Errors are values: these functions do not throw (beyond std::bad_alloc).
// Not thread-safe for the same path; distinct paths are independent.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace signfed::edge {

inline constexpr std::uint32_t kErrorMemoryVersion = 1;

enum class LoadStatus {
  ok,          // memory_out holds the file's memory
  absent,      // no file at the path (first start)
  unreadable,  // it exists but cannot be opened or read
  corrupt,     // bad magic or version, truncated, trailing bytes, or CRC mismatch
  wrong_size,  // a valid file for a model of another parameter count
};

struct LoadResult {
  LoadStatus status = LoadStatus::absent;
  std::uint32_t round = 0;  // valid when status == ok
  std::string message;      // says what is wrong and what happens next; empty when ok or absent
};

// Reads the file at `path` into memory_out, whose size is the expected dim.
// memory_out is written only when the result is ok; otherwise it is left as
// it was (the caller keeps zero memory).
LoadResult load_error_memory(const std::string& path, std::span<float> memory_out);

// Writes `memory` (after round `round`) to `path` atomically, as above.
// Returns "" on success, else a message naming the failing step and the
// errno text; on failure PATH is untouched and PATH.tmp removed.
std::string save_error_memory(const std::string& path, std::uint32_t round, std::span<const float> memory);

}  // namespace signfed::edge
