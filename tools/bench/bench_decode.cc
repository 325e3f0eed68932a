// What the coordinator does with every received byte: the decoders of each
// uplink encoding (dense_sign, runs_sign, sparse_sign, float32; each
// validates while it decodes) and the votes, timed against memcpy of the
// same packet bytes in the same run. The ratio is therefore time per
// received byte in units of memcpy's. Issue 13's target: every decoder and
// the sparse vote as fast per received byte as the dense one -- the target of
// a decoder row is the dense_sign decode's ratio, that of the sparse vote the
// dense vote's, both measured in this run.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "tools/bench/bench_registry.h"
#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"
#include "core/methods/vote.h"

namespace signfed::bench {
namespace {

constexpr std::size_t kVoters = 50;  // issue 13's M

// A gradient-like vector with exact zeros in runs (what signsgd's clients
// send as runs_sign: dead units and constant pixels), about 5 % of coordinates.
std::vector<float> gradient_with_zero_runs(std::size_t n, std::uint64_t seed) {
  data::Rng rng(seed);
  std::vector<float> g(n);
  for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(rng.normal());
  for (std::size_t i = 0; i + 128 <= n; i += 2560)
    for (std::size_t j = 0; j < 128; ++j) g[i + j] = 0.0f;
  return g;
}

// Top-K (K = n/10 by magnitude, S3GD-MV TopKSign) as a sparse_sign packet.
codec::SignPacket topk_packet(std::size_t n, std::uint64_t seed) {
  const std::vector<float> g = gradient_with_zero_runs(n, seed);
  std::vector<std::uint32_t> idx(n / 10), scratch;
  idx.resize(kernels::best_sign_kernels().select_topk(g, idx.size(), idx, scratch));
  return codec::encode_sparse(static_cast<std::uint32_t>(n), idx, g);
}

// The same with whole blocks outside the top-k (1,024 coordinates of every
// 4,096 at a hundredth of the scale, as a layer with small gradients): gaps
// of a thousand and more, longer than a 64-bit window of Rice code.
codec::SignPacket topk_packet_long_gaps(std::size_t n, std::uint64_t seed) {
  std::vector<float> g = gradient_with_zero_runs(n, seed);
  for (std::size_t i = 0; i < n; ++i)
    if ((i / 1024) % 4 == 3) g[i] *= 0.01f;
  std::vector<std::uint32_t> idx(n / 10), scratch;
  idx.resize(kernels::best_sign_kernels().select_topk(g, idx.size(), idx, scratch));
  return codec::encode_sparse(static_cast<std::uint32_t>(n), idx, g);
}

struct Row {
  std::string param, variant, baseline;
  Timing time, base;
  std::size_t bytes;
};

}  // namespace

void bench_decode(const BenchConfig& config, std::vector<BenchResult>& results) {
  for (std::size_t n : config.sizes) {
    const auto dim = static_cast<std::uint32_t>(n);
    std::vector<Row> rows;
    auto decode_row = [&](const char* name, const codec::SignPacket& p, auto decode) {
      std::vector<std::uint8_t> copy(p.payload.size());
      const Timing base = time_runs(
          [&] {
            std::memcpy(copy.data(), p.payload.data(), p.payload.size());
            do_not_optimize(copy.data());
          },
          config.timer);
      const Timing t = time_runs([&] { decode(p.view()); }, config.timer);
      rows.push_back({name, "decode", "memcpy packet B", t, base, p.payload.size()});
    };
    std::vector<float> g = gradient_with_zero_runs(n, 1);
    std::vector<float> dense_g = g;
    for (auto& x : dense_g) x = x == 0.0f ? 1.0f : x;
    const codec::SignPacket dense = codec::encode_ternary_best(codec::ternary_signs(dense_g));
    const codec::SignPacket runs = codec::encode_ternary_best(codec::ternary_signs(g));
    const codec::SignPacket sparse = topk_packet(n, 1);
    const codec::SignPacket floats = codec::encode_float32(g);
    auto to_ternary = [](const codec::PacketView& v) {
      const codec::TernarySigns t = codec::decode_ternary(v);
      do_not_optimize(t.negative.data());
    };
    decode_row("dense_sign", dense, to_ternary);
    decode_row("runs_sign", runs, to_ternary);
    decode_row("sparse_sign", sparse, [](const codec::PacketView& v) {
      const codec::SparseSigns s = codec::decode_sparse(v);
      do_not_optimize(s.index.data());
    });
    decode_row("sparse_sign, long gaps", topk_packet_long_gaps(n, 1), [](const codec::PacketView& v) {
      const codec::SparseSigns s = codec::decode_sparse(v);
      do_not_optimize(s.index.data());
    });
    decode_row("float32", floats, [](const codec::PacketView& v) {
      const std::vector<float> x = codec::decode_float32(v);
      do_not_optimize(x.data());
    });

    // The votes over kVoters packets of each kind, against memcpy of all their bytes.
    auto vote_row = [&](const char* name, const std::vector<codec::SignPacket>& packets, auto vote) {
      std::vector<codec::PacketView> views;
      std::size_t bytes = 0;
      for (const auto& p : packets) views.push_back(p.view()), bytes += p.payload.size();
      std::vector<std::uint8_t> block(bytes), copy(bytes);
      const Timing base = time_runs(
          [&] {
            std::size_t at = 0;
            for (const auto& p : packets) std::memcpy(copy.data() + at, p.payload.data(), p.payload.size()), at += p.payload.size();
            do_not_optimize(copy.data());
          },
          config.timer);
      const Timing t = time_runs(
          [&] {
            const methods::VoteOutcome o = vote(views);
            do_not_optimize(o.signs.negative.data());
          },
          config.timer);
      rows.push_back({fmt::format("{} M={}", name, kVoters), "vote", "memcpy M packets B", t, base, bytes});
    };
    std::vector<codec::SignPacket> dense_m, runs_m, sparse_m;
    for (std::size_t j = 0; j < kVoters; ++j) {
      std::vector<float> gj = gradient_with_zero_runs(n, 100 + j);
      runs_m.push_back(codec::encode_ternary_best(codec::ternary_signs(gj)));
      for (auto& x : gj) x = x == 0.0f ? 1.0f : x;
      dense_m.push_back(codec::encode_ternary_best(codec::ternary_signs(gj)));
      sparse_m.push_back(topk_packet(n, 100 + j));
    }
    const auto& kern = kernels::best_sign_kernels();
    auto dense_vote = [&](std::span<const codec::PacketView> v) {
      return methods::majority_vote_dense(v, dim, wire::TieRule::zero, 1, kern);
    };
    vote_row("dense_sign", dense_m, dense_vote);
    vote_row("runs_sign", runs_m, dense_vote);
    vote_row("sparse_sign", sparse_m, [&](std::span<const codec::PacketView> v) {
      return methods::majority_vote_sparse(v, dim, wire::TieRule::zero, 1);
    });

    // The references: the first decode row and the first vote row (dense_sign each).
    const std::size_t first_vote = static_cast<std::size_t>(
        std::find_if(rows.begin(), rows.end(), [](const Row& r) { return r.variant == "vote"; }) - rows.begin());
    const double dense_decode = rows[0].time.min_s / rows[0].base.min_s;
    const double dense_vote_ratio = rows[first_vote].time.min_s / rows[first_vote].base.min_s;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& row = rows[i];
      BenchResult r;
      r.group = "decode";
      r.n = n;
      r.param = row.param;
      r.variant = row.variant;
      r.best = true;
      r.time = row.time;
      r.baseline = row.baseline;
      r.baseline_time = row.base;
      const bool reference = i == 0 || i == first_vote;  // the dense rows the others are held to
      r.goal = reference ? Goal::kNone : Goal::kRatioAtMost;
      r.target = row.variant == "vote" ? dense_vote_ratio : dense_decode;
      r.note = fmt::format("{} B, {:.2f} ns/B{}", row.bytes, row.time.min_s * 1e9 / static_cast<double>(row.bytes),
                           reference ? " (the reference)" : "");
      results.push_back(r);
    }
  }
}

}  // namespace signfed::bench
