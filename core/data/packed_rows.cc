#include "core/data/packed_rows.h"

#include <algorithm>
#include <string>

#include "core/data/dataset.h"

namespace signfed::data {

namespace {

enum GroupCode : unsigned { kZero = 0, kMixed = 1, kFull = 2 };

}  // namespace

void PackedRows::append(const std::uint8_t* row) {
  const std::size_t groups = (cols + 7) / 8;
  const std::size_t start = data.size() - 1;  // over the trailing zero byte
  if (start + max_row_bytes(cols) + 1 > UINT32_MAX)
    throw DataError("packed rows beyond 4 GiB (" + std::to_string(at.size()) + " rows so far): keep this data unpacked");
  at.push_back(static_cast<std::uint32_t>(start));
  data.resize(start + (groups + 3) / 4, 0);  // the codes, filled in below
  for (std::size_t g = 0; g < groups; ++g) {
    const std::uint8_t* b = row + 8 * g;
    const std::size_t n = std::min<std::size_t>(8, cols - 8 * g);
    unsigned bitmap = 0, nonzero = 0;
    for (std::size_t k = 0; k < n; ++k) {
      bitmap |= static_cast<unsigned>(b[k] != 0) << k;
      nonzero += b[k] != 0;
    }
    const unsigned code = nonzero == 0 ? kZero : nonzero == n ? kFull : kMixed;
    data[start + g / 4] = static_cast<std::uint8_t>(data[start + g / 4] | code << (2 * (g % 4)));
    if (code == kMixed) data.push_back(static_cast<std::uint8_t>(bitmap));
    for (std::size_t k = 0; k < n; ++k)
      if (b[k] != 0) data.push_back(b[k]);
  }
  data.push_back(0);
}

void PackedRows::expand(std::size_t r, const std::array<float, 256>& table, std::span<float> out) const {
  const std::size_t groups = (cols + 7) / 8;
  const std::uint8_t* codes = data.data() + at[r];
  const std::uint8_t* p = codes + (groups + 3) / 4;
  float* o = out.data();
  for (std::size_t g = 0; g < groups; ++g, o += 8) {
    const std::size_t n = std::min<std::size_t>(8, cols - 8 * g);
    switch ((codes[g / 4] >> (2 * (g % 4))) & 3u) {
      case kZero:
        for (std::size_t k = 0; k < n; ++k) o[k] = table[0];
        break;
      case kFull:
        for (std::size_t k = 0; k < n; ++k) o[k] = table[p[k]];
        p += n;
        break;
      default: {  // mixed: where the bit is clear, byte 0 (read as *p & 0, branch-free;
                  // the trailing zero byte makes reading one past the row safe)
        const unsigned bitmap = *p++;
        for (std::size_t k = 0; k < n; ++k) {
          const unsigned set = (bitmap >> k) & 1u;
          o[k] = table[*p & static_cast<std::uint8_t>(0u - set)];
          p += set;
        }
      }
    }
  }
}

}  // namespace signfed::data
