// Sparse sign packets (S3GD-MV TopKSign): encode = Rice-code the sorted
// support + sign bits; decode = verify and expand. Baseline: memcpy of the
// 8K bytes an uncompressed (index, value) list would take. The note compares
// the packet's bits per entry with the paper's K + K log2(N/K) (Table 2) and
// with the information-theoretic floor log2 C(N,K) + K.
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "tools/bench/bench_registry.h"
#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::bench {

void bench_sparse_codec(const BenchConfig& config, std::vector<BenchResult>& results) {
  const auto& kern = kernels::best_sign_kernels();
  for (std::size_t n : config.sizes) {
    std::vector<float> g(n);
    data::Rng rng(n);
    for (auto& x : g) x = static_cast<float>(rng.normal());
    std::vector<std::uint32_t> scratch;
    for (int percent : {1, 10}) {
      const std::size_t k = std::max<std::size_t>(1, n * static_cast<std::size_t>(percent) / 100);
      std::vector<std::uint32_t> idx(k);
      idx.resize(kern.select_topk(g, k, idx, scratch));
      std::vector<std::uint8_t> coo_src(8 * k, 1), coo_dst(8 * k);
      const Timing base = time_runs(
          [&] {
            std::memcpy(coo_dst.data(), coo_src.data(), coo_src.size());
            do_not_optimize(coo_dst.data());
          },
          config.timer);
      codec::SignPacket packet;
      const Timing enc = time_runs(
          [&] {
            packet = codec::encode_sparse(static_cast<std::uint32_t>(n), idx, g);
            do_not_optimize(packet.payload.data());
          },
          config.timer);
      const Timing dec = time_runs(
          [&] {
            const codec::SparseSigns s = codec::decode_sparse(packet.view());
            do_not_optimize(s.index.data());
          },
          config.timer);
      const double bits = 8.0 * static_cast<double>(packet.payload.size()) / static_cast<double>(k);
      const double paper = codec::paper_sparse_bits(n, k) / static_cast<double>(k);
      const double floor = codec::entropy_sparse_bits(n, k) / static_cast<double>(k);
      const std::string note =
          fmt::format("bits/entry {:.2f} (paper {:.2f}, floor {:.2f}), {:.3f} bits/coord, {} B", bits, paper, floor,
                      8.0 * static_cast<double>(packet.payload.size()) / static_cast<double>(n), packet.payload.size());
      for (auto [what, t] : {std::pair{"encode", enc}, std::pair{"decode", dec}}) {
        BenchResult r;
        r.group = "sparse";
        r.n = n;
        r.param = "K=" + std::to_string(percent) + "%";
        r.variant = what;
        r.best = false;
        r.time = t;
        r.baseline = "memcpy 8K B";
        r.baseline_time = base;
        r.goal = Goal::kNone;
        r.note = note;
        results.push_back(r);
      }
    }
  }
}

}  // namespace signfed::bench
