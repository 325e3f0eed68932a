// Writes NumPy .npy files (format 1.0, little-endian, C order), the array
// format of run plans (tools/reference/PLAN.md). Throws std::runtime_error
// naming the file when it cannot be written.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace signfed::sim {

void write_npy(const std::string& path, std::span<const float> data, const std::vector<std::size_t>& shape);
void write_npy(const std::string& path, std::span<const std::uint32_t> data, const std::vector<std::size_t>& shape);
void write_npy(const std::string& path, std::span<const std::uint64_t> data, const std::vector<std::size_t>& shape);

}  // namespace signfed::sim
