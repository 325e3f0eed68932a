#include "edge/error_memory_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace signfed::edge {

namespace {

constexpr std::uint8_t kMagic[4] = {'S', 'F', 'E', 'M'};
constexpr std::size_t kHeaderBytes = 16;
constexpr std::size_t kCrcBytes = 4;

void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t{p[i]} << (8 * i);
  return v;
}

std::uint32_t crc_of(const std::uint8_t* p, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes a uInt length
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Closes the descriptor on scope exit unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

bool write_all(int fd, const std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

LoadResult load_error_memory(const std::string& path, std::span<float> memory_out) {
  LoadResult r;
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return r;  // absent
    r.status = LoadStatus::unreadable;
    r.message = errno_text("cannot open state file", path) + "; starting with zero error memory";
    return r;
  }
  std::vector<std::uint8_t> bytes;
  std::uint8_t buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.status = LoadStatus::unreadable;
      r.message = errno_text("cannot read state file", path) + "; starting with zero error memory";
      return r;
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  const auto refuse = [&](LoadStatus s, const std::string& why) {
    r.status = s;
    r.message = "state file " + path + " " + why + "; starting with zero error memory";
    return r;
  };
  if (bytes.size() < kHeaderBytes + kCrcBytes || std::memcmp(bytes.data(), kMagic, 4) != 0)
    return refuse(LoadStatus::corrupt, "is not a signfed edge state file (bad magic or shorter than its header)");
  const std::uint32_t version = get_u32(bytes.data() + 4);
  if (version != kErrorMemoryVersion)
    return refuse(LoadStatus::corrupt, "has format version " + std::to_string(version) + ", this client reads " +
                                           std::to_string(kErrorMemoryVersion));
  const std::uint64_t dim = get_u32(bytes.data() + 8);
  const std::uint64_t expect = kHeaderBytes + 4 * dim + kCrcBytes;
  if (bytes.size() != expect)
    return refuse(LoadStatus::corrupt, "is " + std::to_string(bytes.size()) + " bytes but its header says " +
                                           std::to_string(expect) + " (truncated or padded)");
  const std::size_t body = kHeaderBytes + 4 * dim;
  if (crc_of(bytes.data(), body) != get_u32(bytes.data() + body))
    return refuse(LoadStatus::corrupt, "fails its CRC-32 check (damaged)");
  if (dim != memory_out.size())
    return refuse(LoadStatus::wrong_size, "holds " + std::to_string(dim) + " values but this model has " +
                                              std::to_string(memory_out.size()) + " parameters");
  for (std::size_t i = 0; i < dim; ++i)
    memory_out[i] = std::bit_cast<float>(get_u32(bytes.data() + kHeaderBytes + 4 * i));
  r.status = LoadStatus::ok;
  r.round = get_u32(bytes.data() + 12);
  return r;
}

std::string save_error_memory(const std::string& path, std::uint32_t round, std::span<const float> memory) {
  if (memory.size() > (0xffffffffu - kHeaderBytes - kCrcBytes) / 4) return "state too large for format version 1";
  const std::size_t body = kHeaderBytes + 4 * memory.size();
  std::vector<std::uint8_t> bytes(body + kCrcBytes);
  std::memcpy(bytes.data(), kMagic, 4);
  put_u32(bytes.data() + 4, kErrorMemoryVersion);
  put_u32(bytes.data() + 8, static_cast<std::uint32_t>(memory.size()));
  put_u32(bytes.data() + 12, round);
  for (std::size_t i = 0; i < memory.size(); ++i)
    put_u32(bytes.data() + kHeaderBytes + 4 * i, std::bit_cast<std::uint32_t>(memory[i]));
  put_u32(bytes.data() + body, crc_of(bytes.data(), body));

  const std::string tmp = path + ".tmp";
  Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (f.fd < 0) return errno_text("cannot create", tmp);
  std::string err;
  if (!write_all(f.fd, bytes.data(), bytes.size())) {
    err = errno_text("cannot write", tmp);
  } else if (::fsync(f.fd) != 0) {
    err = errno_text("cannot fsync", tmp);
  } else if (::close(f.release()) != 0) {
    err = errno_text("cannot close", tmp);
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno_text("cannot rename " + tmp + " to", path);
  }
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    return err;
  }
  // The rename is durable only once the directory entry is.
  const std::string dir = directory_of(path);
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || ::fsync(d.fd) != 0) return errno_text("cannot fsync directory", dir);
  return "";
}

}  // namespace signfed::edge
