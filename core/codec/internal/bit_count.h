// Counting set bits in packed bitmaps (FORMAT.md bit order), 64 bits a step.
// Portable SWAR: std::popcount on a build without -mpopcnt (any distributed
// x86-64 binary) is a call into libgcc per word, and per byte it dominated the
// coordinator's round (docs/perf-coordinator.md). Header-only, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace signfed::codec::internal {

inline unsigned popcount64(std::uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<unsigned>((x * 0x0101010101010101ull) >> 56);
}

// The i-th 64-bit word of b (bytes past the end read as 0).
inline std::uint64_t load_word(std::span<const std::uint8_t> b, std::size_t i) {
  std::uint64_t w = 0;
  const std::size_t at = i * 8;
  if (at + 8 <= b.size()) std::memcpy(&w, b.data() + at, 8);
  else if (at < b.size()) std::memcpy(&w, b.data() + at, b.size() - at);
  return w;
}

inline std::size_t words_of(std::size_t bytes) { return (bytes + 7) / 8; }

inline std::uint64_t popcount_bytes(std::span<const std::uint8_t> b) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < words_of(b.size()); ++i) n += popcount64(load_word(b, i));
  return n;
}

}  // namespace signfed::codec::internal
