#include "core/data/packed_rows.h"

#include <string>

#include "core/data/dataset.h"

namespace signfed::data {

void PackedRows::append(const std::uint8_t* row) {
  const std::size_t bitmap = (cols + 7) / 8;
  std::size_t nonzero = 0;
  for (std::size_t j = 0; j < cols; ++j) nonzero += row[j] != 0;
  const std::size_t start = data.size() - 1;  // over the trailing zero byte
  if (start + bitmap + nonzero + 1 > UINT32_MAX)
    throw DataError("packed rows beyond 4 GiB (" + std::to_string(at.size()) + " rows so far): keep this data unpacked");
  at.push_back(static_cast<std::uint32_t>(start));
  data.resize(start + bitmap + nonzero + 1, 0);
  std::uint8_t* bits = data.data() + start;
  std::uint8_t* nz = bits + bitmap;
  for (std::size_t j = 0; j < cols; ++j) {
    if (row[j] == 0) continue;
    bits[j >> 3] = static_cast<std::uint8_t>(bits[j >> 3] | (1u << (j & 7)));
    *nz++ = row[j];
  }
}

void PackedRows::expand(std::size_t r, const std::array<float, 256>& table, std::span<float> out) const {
  const std::uint8_t* bits = data.data() + at[r];
  const std::uint8_t* nz = bits + (cols + 7) / 8;
  // One byte of the bitmap: where its bit is clear, byte 0 (read as *nz & 0,
  // branch-free: the trailing zero byte makes reading one past the row safe).
  auto one = [&](unsigned set, float* o) {
    *o = table[*nz & static_cast<std::uint8_t>(0u - set)];
    nz += set;
  };
  std::size_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    const unsigned m = bits[j >> 3];
    float* o = out.data() + j;
    if (m == 0) {
      for (int k = 0; k < 8; ++k) o[k] = table[0];
    } else if (m == 0xFF) {
      for (int k = 0; k < 8; ++k) o[k] = table[nz[k]];
      nz += 8;
    } else {
      for (int k = 0; k < 8; ++k) one((m >> k) & 1u, o + k);
    }
  }
  for (; j < cols; ++j) one((bits[j >> 3] >> (j & 7)) & 1u, out.data() + j);
}

}  // namespace signfed::data
