// Byte rows packed for a board's memory: each row kept as a bitmap of its
// nonzero bytes (ceil(cols / 8) bytes; bit j, LSB first, set when byte j is
// nonzero) followed by those nonzero bytes in order. Images are about half
// zeros (Fashion-MNIST 50 %: 0.62 of the plain bytes, bitmap included;
// MNIST 81 %: 0.32), and an edge keeps its shard this way (issue 13 item 5),
// expanding a row only as its minibatch is gathered. Lossless: a row reads
// back as the same bytes, so the floats a model sees are bit-identical.
//
// Layout: `data` holds the rows back to back and then one zero byte (the
// branch-free expansion reads one byte past a row's last nonzero byte);
// `at[r]` is where row r starts. At most 4 GiB of packed rows (uint32 offsets;
// append() throws DataError beyond). Read-only use is thread-safe.
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
  // Appends one row of `cols` bytes. Throws DataError past 4 GiB of packed rows.
  void append(const std::uint8_t* row);
  // Row r (< rows()) through `table` (e.g. byte_values()): out[j] = table[byte j].
  // Eight bytes a step, with fast paths for all-zero and all-nonzero groups
  // (background and object: 58 % of Fashion-MNIST's groups). Allocates nothing.
  void expand(std::size_t r, const std::array<float, 256>& table, std::span<float> out) const;
};

}  // namespace signfed::data
