// Dataset storage helpers: the byte-to-float table, widening, row selection.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/data/dataset.h"

namespace signfed::data {

const std::array<float, 256>& byte_values() {
  // Computed once, at run time, by the same expression every loader used
  // before bytes were kept (static_cast<float>(v) / 255.0F): bit-identical values.
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (std::size_t v = 0; v < t.size(); ++v) t[v] = static_cast<float>(v) / 255.0F;
    return t;
  }();
  return table;
}

void widen(Dataset& ds) {
  if (ds.stored_packed()) {
    ds.features.resize(ds.rows * ds.cols);
    for (std::size_t r = 0; r < ds.rows; ++r) ds.row(r, std::span(ds.features).subspan(r * ds.cols, ds.cols));
    ds.packed = PackedRows{};
    return;
  }
  if (!ds.stored_as_bytes()) return;
  const std::array<float, 256>& v = byte_values();
  ds.features.resize(ds.bytes.size());
  for (std::size_t i = 0; i < ds.bytes.size(); ++i) ds.features[i] = v[ds.bytes[i]];
  std::vector<std::uint8_t>().swap(ds.bytes);
}

Dataset select_rows(const Dataset& ds, std::span<const std::uint32_t> rows) {
  Dataset out;
  out.rows = rows.size();
  out.cols = ds.cols;
  out.classes = ds.classes;
  out.sample_shape = ds.sample_shape;
  out.labels.reserve(rows.size());
  if (ds.stored_packed()) {  // packed rows stay packed: each row's bytes copied as they are
    out.packed.cols = ds.cols;
    out.packed.at.reserve(rows.size());
    for (const std::uint32_t r : rows) {
      const std::size_t from = ds.packed.at[r];
      const std::size_t to = r + 1 < ds.packed.rows() ? ds.packed.at[r + 1] : ds.packed.data.size() - 1;
      out.packed.at.push_back(static_cast<std::uint32_t>(out.packed.data.size() - 1));
      out.packed.data.insert(out.packed.data.end() - 1, ds.packed.data.begin() + static_cast<std::ptrdiff_t>(from),
                             ds.packed.data.begin() + static_cast<std::ptrdiff_t>(to));
      out.labels.push_back(ds.labels[r]);
    }
    return out;
  }
  if (ds.stored_as_bytes()) out.bytes.reserve(rows.size() * ds.cols);
  else out.features.reserve(rows.size() * ds.cols);
  for (const std::uint32_t r : rows) {
    const std::size_t off = std::size_t{r} * ds.cols;
    if (ds.stored_as_bytes()) out.bytes.insert(out.bytes.end(), ds.bytes.begin() + off, ds.bytes.begin() + off + ds.cols);
    else out.features.insert(out.features.end(), ds.features.begin() + off, ds.features.begin() + off + ds.cols);
    out.labels.push_back(ds.labels[r]);
  }
  return out;
}

}  // namespace signfed::data
