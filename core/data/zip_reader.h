// A read-only zip archive reader, enough for NumPy's .npz: members stored
// (method 0, np.savez) or deflated (method 8, np.savez_compressed), with or
// without zip64 records (numpy writes zip64 extra fields on every member),
// from a single-file archive. Built on zlib alone, so the edge binary does not
// link libzip (and, through it, libcrypto and libbz2: ~1.7 MB of resident
// library pages, docs/perf-edge.md).
//
// Format (PKWARE APPNOTE.TXT 6.3; every integer little-endian):
//   [local header 30 B + name + extra][member data] ... per member
//   [central directory: one 46 B header + name + extra + comment per member]
//   [zip64 end record 56 B + zip64 locator 20 B]  only when a field overflows
//   [end of central directory 22 B + comment (<= 65,535 B)]
// Members are found through the central directory (its sizes are the ones
// trusted: a local header may hold zeros and a data descriptor after the
// data); the local header gives only where the data starts.
//
// Memory: the central directory entries (names and offsets), and a member's
// bytes only as read() returns them: a member is read in 64 KiB blocks
// (inflated straight into the result), never the whole archive.
//
// Errors: every malformed or unsupported archive throws DataError naming the
// archive (and the member), never crashes: encrypted members, other
// compression methods, archives spanning disks, sizes or offsets beyond the
// file, a deflate stream that is corrupt, ends early or inflates to another
// size, and a CRC-32 mismatch. Not thread-safe (one file position); separate
// ZipArchive objects are independent.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace signfed::data {

struct ZipMember {
  std::string name;                 // as stored (e.g. "x.npy")
  std::uint16_t flags = 0;          // general purpose bit flags
  std::uint16_t method = 0;         // 0 stored, 8 deflated
  std::uint32_t crc32 = 0;          // of the uncompressed bytes
  std::uint64_t compressed_size = 0;  // bytes in the archive
  std::uint64_t size = 0;             // bytes once read
  std::uint64_t local_offset = 0;     // of its local header, from the file start
};

class ZipArchive {
 public:
  // Opens `path` and reads its central directory. Throws DataError: cannot
  // open ("cannot open PATH as a .npz (zip) archive: ..."), not a zip, or a
  // malformed directory.
  explicit ZipArchive(const std::string& path);

  // In central directory order.
  const std::vector<ZipMember>& members() const { return members_; }

  // The member's uncompressed bytes, CRC-checked. `m` must be one of
  // members(). Throws DataError naming `label` (e.g. "d.npz:x.npy"). A byte
  // vector, so that a loader can keep it as a Dataset's `bytes` in place.
  std::vector<std::uint8_t> read(const ZipMember& m, const std::string& label);

 private:
  void read_at(std::uint64_t offset, char* out, std::size_t n, const std::string& what);

  std::string path_;
  std::ifstream in_;
  std::uint64_t file_size_ = 0;
  std::vector<ZipMember> members_;
};

}  // namespace signfed::data
