// The list of benchmark groups. One declaration and one row per group.
#include "tools/bench/bench_registry.h"

namespace signfed::bench {

// bench_kernels.cc
void bench_pack(const BenchConfig& config, std::vector<BenchResult>& results);
void bench_unpack(const BenchConfig& config, std::vector<BenchResult>& results);
void bench_vote(const BenchConfig& config, std::vector<BenchResult>& results);
void bench_topk(const BenchConfig& config, std::vector<BenchResult>& results);
// bench_topk_layout.cc
void bench_topk_layout(const BenchConfig& config, std::vector<BenchResult>& results);
// bench_codec.cc
void bench_sparse_codec(const BenchConfig& config, std::vector<BenchResult>& results);
// bench_decode.cc
void bench_decode(const BenchConfig& config, std::vector<BenchResult>& results);
// bench_tally.cc
void bench_tally(const BenchConfig& config, std::vector<BenchResult>& results);

std::span<const BenchGroup> bench_groups() {
  static constexpr BenchGroup kGroups[] = {
      {"pack", "sign pack f32 -> bits vs memcpy of the 4N input bytes (target <= 1.0x)", bench_pack},
      {"unpack", "sign unpack bits -> +-1.0f vs memcpy of the 4N output bytes (informational)", bench_unpack},
      {"vote", "dense majority vote, M = 10 and 100, vs memcpy of the M*N/8 packet bytes (target <= 2.0x)",
       bench_vote},
      {"topk", "top-k by |g|, K = 1% and 10%, vs std::nth_element on |g| (target >= 3x faster)", bench_topk},
      {"topk-layout",
       "top-k at every 64 B offset of the input in a page and of the stack: slowest vs fastest offset "
       "(first size only; target <= 1.5x)",
       bench_topk_layout},
      {"sparse", "TopKSign packet encode/decode (Rice gap code), bits per entry vs the paper's K + K log2(N/K)",
       bench_sparse_codec},
      {"decode",
       "decoders and votes (M = 50) per received byte vs memcpy of the packet bytes (target: the dense one's ratio)",
       bench_decode},
      {"tally",
       "partial tallies (M = 50): the exact weighted mean vs the double sum it replaced, a vote folded into a "
       "tally and decided vs the flat dense vote (informational)",
       bench_tally},
  };
  return kGroups;
}

}  // namespace signfed::bench
