#include "tools/sim/npy.h"

#include <bit>
#include <fstream>
#include <stdexcept>

namespace signfed::sim {
namespace {

static_assert(std::endian::native == std::endian::little, "npy files are written little-endian");

void write(const std::string& path, const char* descr, const void* data, std::size_t bytes,
           const std::vector<std::size_t>& shape) {
  std::string dims;
  for (std::size_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();  // (n,) for one dimension, (a,b) for more
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xff),
                                  static_cast<unsigned char>(header.size() >> 8)};
  f.write(reinterpret_cast<const char*>(head), sizeof head);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void write_npy(const std::string& path, std::span<const float> data, const std::vector<std::size_t>& shape) {
  write(path, "<f4", data.data(), data.size_bytes(), shape);
}
void write_npy(const std::string& path, std::span<const std::uint32_t> data, const std::vector<std::size_t>& shape) {
  write(path, "<u4", data.data(), data.size_bytes(), shape);
}
void write_npy(const std::string& path, std::span<const std::uint64_t> data, const std::vector<std::size_t>& shape) {
  write(path, "<u8", data.data(), data.size_bytes(), shape);
}

}  // namespace signfed::sim
