// Byte rows packed for a board's memory. A row is cut into groups of 8 bytes
// (the last one shorter when cols is not a multiple of 8); each group is
// coded in 2 bits as all zero, all nonzero or mixed, and only what the code
// does not say is stored:
//
//   row   = codes, then each group's payload in order
//   codes = ceil(groups / 4) bytes, group g's code in bits 2(g % 4)..+1 of byte g / 4:
//           0 all zero (no payload), 1 mixed, 2 all nonzero
//   payload of a mixed group:       a bitmap byte (bit k set: byte k nonzero,
//                                   LSB first) and its nonzero bytes in order
//   payload of an all-nonzero one:  its bytes
//
// Images have a zero background and a solid object: Fashion-MNIST is 50 %
// zeros and 28 % / 25 % of its groups are all zero / all nonzero, so a row
// takes 0.58 of its plain bytes (MNIST, 81 % zeros: about 0.3). An edge keeps
// its shard this way (issue 13 item 5) and expands a row only as its
// minibatch is gathered. Lossless: a row reads back as the same bytes, so the
// floats a model sees are bit-identical.
//
// Layout: `data` holds the rows back to back and then one zero byte (the
// branch-free expansion of a mixed group reads one byte past its last nonzero
// byte); `at[r]` is where row r starts. At most 4 GiB of packed rows (uint32
// offsets; append() throws DataError beyond). Read-only use is thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace signfed::data {

struct PackedRows {
  std::size_t cols = 0;
  std::vector<std::uint8_t> data = {0};
  std::vector<std::uint32_t> at;

  std::size_t rows() const { return at.size(); }
  // The largest packed size of a row of `cols` bytes (every group mixed): what a
  // loader reserves per row so that data never grows by copying.
  static std::size_t max_row_bytes(std::size_t cols) { return (cols + 31) / 32 + (cols + 7) / 8 + cols; }
  // Appends one row of `cols` bytes. Throws DataError past 4 GiB of packed rows.
  void append(const std::uint8_t* row);
  // Row r (< rows()) through `table` (e.g. byte_values()): out[j] = table[byte j].
  // Allocates nothing.
  void expand(std::size_t r, const std::array<float, 256>& table, std::span<float> out) const;
};

}  // namespace signfed::data
