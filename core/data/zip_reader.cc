// Zip reading with zlib (contract and format in zip_reader.h).
#include "core/data/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

#include "core/data/dataset.h"

namespace signfed::data {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kLocator64Sig = 0x07064b50;
constexpr std::size_t kLocalFixed = 30;
constexpr std::size_t kCentralFixed = 46;
constexpr std::size_t kEndFixed = 22;
constexpr std::size_t kEnd64Fixed = 56;
constexpr std::size_t kLocator64Size = 20;
constexpr std::size_t kMaxComment = 65535;
constexpr std::size_t kBlock = std::size_t{1} << 16;
// Deflate cannot expand data more than 1032:1 (a 258-byte match in a 2-bit
// code at best), so a larger recorded size is corrupt, not a big member.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::uint64_t le(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
std::uint16_t le16(const char* p) { return static_cast<std::uint16_t>(le(p, 2)); }
std::uint32_t le32(const char* p) { return static_cast<std::uint32_t>(le(p, 4)); }

struct InflateEnd {
  void operator()(z_stream* z) const noexcept { inflateEnd(z); }
};

}  // namespace

void ZipArchive::read_at(std::uint64_t offset, char* out, std::size_t n, const std::string& what) {
  if (offset > file_size_ || n > file_size_ - offset) {
    throw DataError(what + ": the archive ends at byte " + std::to_string(file_size_) + " before byte " +
                    std::to_string(offset + n) + " — truncated or corrupt .npz, re-create it");
  }
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset));
  in_.read(out, static_cast<std::streamsize>(n));
  if (!in_ || static_cast<std::size_t>(in_.gcount()) != n) {
    throw DataError(what + ": read error at byte " + std::to_string(offset) + " — re-create the .npz");
  }
}

ZipArchive::ZipArchive(const std::string& path) : path_(path) {
  const std::string not_zip = "cannot open " + path + " as a .npz (zip) archive: ";
  const std::string fix = " — check the path, or write the file with numpy.savez";
  errno = 0;
  in_.open(path, std::ios::binary);
  if (!in_) {
    const int err = errno;
    throw DataError(not_zip + (err != 0 ? std::generic_category().message(err) : "open failed") + fix);
  }
  in_.seekg(0, std::ios::end);
  const std::streamoff end = in_.tellg();
  if (end < 0) throw DataError(not_zip + "cannot seek" + fix);
  file_size_ = static_cast<std::uint64_t>(end);
  if (file_size_ < kEndFixed) throw DataError(not_zip + "Not a zip archive (too short)" + fix);

  // The end record: the last "PK\5\6" whose comment length reaches exactly
  // to the end of the file.
  const std::size_t tail_len = static_cast<std::size_t>(std::min<std::uint64_t>(file_size_, kEndFixed + kMaxComment));
  std::string tail(tail_len, '\0');
  read_at(file_size_ - tail_len, tail.data(), tail_len, path);
  std::size_t e = std::string::npos;
  for (std::size_t i = tail_len - kEndFixed + 1; i-- > 0;) {
    if (le32(tail.data() + i) == kEndSig && i + kEndFixed + le16(tail.data() + i + 20) == tail_len) {
      e = i;
      break;
    }
  }
  if (e == std::string::npos) throw DataError(not_zip + "Not a zip archive (no end of central directory record)" + fix);
  const std::uint64_t end_offset = file_size_ - tail_len + e;
  const char* rec = tail.data() + e;
  std::uint64_t disk = le16(rec + 4);
  std::uint64_t cd_disk = le16(rec + 6);
  std::uint64_t entries_here = le16(rec + 8);
  std::uint64_t entries = le16(rec + 10);
  std::uint64_t cd_size = le32(rec + 12);
  std::uint64_t cd_offset = le32(rec + 16);

  const std::string bad = path + ": malformed zip archive: ";
  const std::string recreate = " — re-create the .npz";
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {  // zip64
    char loc[kLocator64Size];
    if (end_offset < kLocator64Size) throw DataError(bad + "zip64 fields without a zip64 locator" + recreate);
    read_at(end_offset - kLocator64Size, loc, kLocator64Size, path);
    if (le32(loc) != kLocator64Sig) throw DataError(bad + "zip64 fields without a zip64 locator" + recreate);
    char rec64[kEnd64Fixed];
    read_at(le(loc + 8, 8), rec64, kEnd64Fixed, path);
    if (le32(rec64) != kEnd64Sig) throw DataError(bad + "the zip64 locator points at no zip64 end record" + recreate);
    disk = le32(rec64 + 16);
    cd_disk = le32(rec64 + 20);
    entries_here = le(rec64 + 24, 8);
    entries = le(rec64 + 32, 8);
    cd_size = le(rec64 + 40, 8);
    cd_offset = le(rec64 + 48, 8);
  }
  if (disk != 0 || cd_disk != 0 || entries_here != entries) {
    throw DataError(path + ": a zip archive spanning several disks is not supported" + recreate + " as one file");
  }
  if (cd_offset > end_offset || cd_size > end_offset - cd_offset || entries > cd_size / kCentralFixed) {
    throw DataError(bad + "the central directory (" + std::to_string(entries) + " entries, " + std::to_string(cd_size) +
                    " bytes at " + std::to_string(cd_offset) + ") does not fit in the file" + recreate);
  }

  std::string cd(static_cast<std::size_t>(cd_size), '\0');
  read_at(cd_offset, cd.data(), cd.size(), path);
  members_.reserve(static_cast<std::size_t>(entries));
  std::size_t p = 0;
  for (std::uint64_t i = 0; i < entries; ++i) {
    const std::string which = bad + "central directory entry " + std::to_string(i) + ": ";
    if (cd.size() - p < kCentralFixed || le32(cd.data() + p) != kCentralSig) {
      throw DataError(which + "no entry signature" + recreate);
    }
    const char* h = cd.data() + p;
    const std::size_t name_len = le16(h + 28);
    const std::size_t extra_len = le16(h + 30);
    const std::size_t comment_len = le16(h + 32);
    if (cd.size() - p - kCentralFixed < name_len + extra_len + comment_len) {
      throw DataError(which + "runs past the directory's end" + recreate);
    }
    ZipMember m;
    m.flags = le16(h + 8);
    m.method = le16(h + 10);
    m.crc32 = le32(h + 16);
    m.compressed_size = le32(h + 20);
    m.size = le32(h + 24);
    std::uint64_t start_disk = le16(h + 34);
    m.local_offset = le32(h + 42);
    m.name.assign(h + kCentralFixed, name_len);
    // The zip64 extra field holds, in this order, those of the four values
    // whose 32-bit (16-bit for the disk) field is all ones.
    std::string_view extra(h + kCentralFixed + name_len, extra_len);
    while (extra.size() >= 4) {
      const std::uint16_t id = le16(extra.data());
      const std::size_t len = le16(extra.data() + 2);
      if (len > extra.size() - 4) throw DataError(which + "an extra field runs past its entry" + recreate);
      if (id == 0x0001) {
        std::string_view f = extra.substr(4, len);
        auto take = [&](std::uint64_t& v, std::uint64_t all_ones, std::size_t width) {
          if (v != all_ones) return;
          if (f.size() < width) throw DataError(which + "zip64 extra field too short" + recreate);
          v = le(f.data(), width);
          f.remove_prefix(width);
        };
        take(m.size, 0xFFFFFFFF, 8);
        take(m.compressed_size, 0xFFFFFFFF, 8);
        take(m.local_offset, 0xFFFFFFFF, 8);
        take(start_disk, 0xFFFF, 4);
      }
      extra.remove_prefix(4 + len);
    }
    if (start_disk != 0) throw DataError(path + ": a zip archive spanning several disks is not supported" + recreate);
    if (m.local_offset > cd_offset) {
      throw DataError(which + "member '" + m.name + "' starts after the central directory" + recreate);
    }
    members_.push_back(std::move(m));
    p += kCentralFixed + name_len + extra_len + comment_len;
  }
}

std::vector<std::uint8_t> ZipArchive::read(const ZipMember& m, const std::string& label) {
  const std::string recreate = " — re-create the .npz";
  if ((m.flags & 0x0001) != 0) throw DataError(label + ": the member is encrypted; only plain archives are read" + recreate);
  if (m.method != 0 && m.method != 8) {
    throw DataError(label + ": compression method " + std::to_string(m.method) +
                    " is not supported (stored and deflated are, as numpy.savez and savez_compressed write)");
  }
  char local[kLocalFixed];
  read_at(m.local_offset, local, kLocalFixed, label);
  if (le32(local) != kLocalSig) throw DataError(label + ": no local header where the directory points" + recreate);
  const std::uint64_t data = m.local_offset + kLocalFixed + le16(local + 26) + le16(local + 28);
  if (data > file_size_ || m.compressed_size > file_size_ - data) {
    throw DataError(label + ": its " + std::to_string(m.compressed_size) + " bytes run past the archive's end" + recreate);
  }
  if (m.method == 0 && m.compressed_size != m.size) {
    throw DataError(label + ": stored member with compressed size " + std::to_string(m.compressed_size) +
                    " != size " + std::to_string(m.size) + recreate);
  }
  if (m.method == 8 && m.size > m.compressed_size * kMaxDeflateRatio + 1024) {
    throw DataError(label + ": recorded size " + std::to_string(m.size) + " is more than " +
                    std::to_string(m.compressed_size) + " deflated bytes can hold" + recreate);
  }

  std::vector<std::uint8_t> out;
  if (m.method == 0) {
    out.resize(static_cast<std::size_t>(m.size));  // within the file: checked above
    read_at(data, reinterpret_cast<char*>(out.data()), out.size(), label);
  } else {
    // Reserved whole (address space only), grown as output arrives: a
    // corrupt size costs no resident memory beyond what the stream yields.
    const std::size_t size = static_cast<std::size_t>(m.size);
    out.reserve(size);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw DataError(label + ": zlib inflateInit2 failed (out of memory?)");
    const std::unique_ptr<z_stream, InflateEnd> guard(&zs);
    std::string block(kBlock, '\0');
    std::uint64_t in_done = 0;
    std::size_t out_done = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0) {
        if (in_done == m.compressed_size) {
          throw DataError(label + ": the deflate stream ends early (" + std::to_string(out_done) + " of " +
                          std::to_string(m.size) + " bytes)" + recreate);
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, m.compressed_size - in_done));
        read_at(data + in_done, block.data(), n, label);
        in_done += n;
        zs.next_in = reinterpret_cast<Bytef*>(block.data());
        zs.avail_in = static_cast<uInt>(n);
      }
      // One spare byte of room past the recorded size (a local, never
      // returned) detects a stream that inflates to more.
      unsigned char spare = 0;
      if (out_done == out.size()) out.resize(std::min(size, out_done + (std::size_t{1} << 22)));
      const bool full = out_done == out.size();
      zs.next_out = full ? &spare : out.data() + out_done;
      zs.avail_out = full ? 1U : static_cast<uInt>(std::min<std::size_t>(out.size() - out_done, std::size_t{1} << 30));
      const uInt room = zs.avail_out;
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) {
        throw DataError(label + ": corrupt deflate data (" + (zs.msg != nullptr ? zs.msg : "zlib error") + ")" + recreate);
      }
      const uInt produced = room - zs.avail_out;
      if (full && produced > 0) {
        throw DataError(label + ": inflates to more than its recorded size " + std::to_string(m.size) + recreate);
      }
      out_done += produced;
      if (rc == Z_BUF_ERROR && produced == 0 && zs.avail_in != 0) {
        throw DataError(label + ": corrupt deflate data (no progress)" + recreate);
      }
    }
    if (out_done != size) {
      throw DataError(label + ": inflates to " + std::to_string(out_done) + " bytes, its recorded size is " +
                      std::to_string(m.size) + recreate);
    }
  }
  const std::uint32_t crc = static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), out.data(), out.size()));
  if (crc != m.crc32) throw DataError(label + ": CRC-32 mismatch (corrupt member)" + recreate);
  return out;
}

}  // namespace signfed::data
