// Sign kernels: the hot loops of sign compression and majority vote.
//
// Contract shared by every variant (scalar reference, SSE2, AVX2, NEON):
//  * Bit layout: coordinate i lives in byte i/8, bit i%8 (LSB first). A set bit
//    means "negative": it is the IEEE-754 sign bit of the float (so -0.0f packs
//    as set, +0.0f as clear). Pad bits past n in the last byte are written 0 and
//    ignored on read.
//  * Sizes are in elements (coordinates) unless a name says bytes.
//  * Kernels never allocate, never throw, and never write past the spans given;
//    callers size the outputs (packed_bytes(n) bytes for bitmaps).
//  * Every variant is bit-exact to the scalar reference (tests/kernels holds them
//    equal over sizes 0..4x vector width and large random sizes).
//  * Kernels are pure functions: thread-safe as long as outputs do not alias.
//
// Variants are chosen once, from CPU features, by best_sign_kernels(); tests and
// benchmarks iterate all_sign_kernels() (every variant this CPU can run).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace signfed::kernels {

constexpr std::size_t packed_bytes(std::size_t n) { return (n + 7) / 8; }

// Number of bins of the vote-margin histogram: bin b counts coordinates whose
// |sum of votes| / voters lies in [b/kMarginBins, (b+1)/kMarginBins); the
// last bin also takes margin == 1 (unanimous).
inline constexpr int kMarginBins = 8;

struct DenseVoteCounts {
  std::uint64_t positive = 0;  // coordinates voted +1
  std::uint64_t negative = 0;  // coordinates voted -1
  std::uint64_t ties = 0;      // coordinates with as many + as - votes (even voters only)
  std::uint64_t margin_hist[kMarginBins] = {};
};

// pack: out[i/8] bit i%8 = signbit(x[i]).  out.size() >= packed_bytes(x.size()).
using PackSignsFn = void (*)(std::span<const float> x, std::span<std::uint8_t> out);

// unpack: out[i] = bit set ? -1.0f : +1.0f for i < out.size(); bits.size() >= packed_bytes(out.size()).
using UnpackSignsFn = void (*)(std::span<const std::uint8_t> bits, std::span<float> out);

// Dense majority vote over `voters` packed sign vectors of n coordinates each
// (Safaryan Alg. 2 line 6: sign of the sum of M signs).
//   negative[i] bit set  <=> more voters set bit i than left it clear  (vote = -1)
//   tie[i] bit set       <=> exactly half set it (only possible for even voters)
//   otherwise the vote is +1.
// negative and tie hold packed_bytes(n) bytes each (pad bits written 0).
// Returns counts and the margin histogram. voters.size() may be 0 (all ties,
// margin 0) and must be < 65536.
using VoteDenseFn = DenseVoteCounts (*)(std::span<const std::uint8_t* const> voters, std::size_t n,
                                        std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);

// Top-k selection by magnitude: writes exactly k = min(k, n) indices, sorted
// ascending, of the k largest |g[i]|. Ties in magnitude at the threshold are
// broken towards the lower index, so the result is a deterministic function
// of (g, k). g must be finite (the caller checks). `scratch` is caller-owned
// working memory, resized as needed (no allocation once warm).
// Returns the number of indices written.
using SelectTopKFn = std::size_t (*)(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                     std::vector<std::uint32_t>& scratch);

struct SignKernels {
  const char* name;  // "scalar", "sse2", "avx2", "neon"
  PackSignsFn pack_signs;
  UnpackSignsFn unpack_signs;
  VoteDenseFn vote_dense;
  SelectTopKFn select_topk;
};

// The scalar reference: plain loops, the definition every variant must match.
const SignKernels& scalar_sign_kernels();

// Every variant compiled in AND supported by this CPU, reference first.
std::span<const SignKernels* const> all_sign_kernels();

// The fastest supported variant, chosen once (thread-safe static init).
const SignKernels& best_sign_kernels();

}  // namespace signfed::kernels
