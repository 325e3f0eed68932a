// The partial tallies (core/methods/tally.h) on the coordinator's hot path:
// the exact weighted mean of M = 50 float32 updates against the summation it
// replaced (double accumulation in packet order, order-dependent), and a
// vote folded into a VoteTally and decided against the flat dense vote --
// both timed in the same run. Informational: what exactness and the relay
// form cost per round.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "tools/bench/bench_registry.h"
#include "core/codec/packet.h"
#include "core/data/rng.h"
#include "core/kernels/sign_kernels.h"
#include "core/kernels/tally_kernels.h"
#include "core/methods/tally.h"
#include "core/methods/vote.h"

namespace signfed::bench {
namespace {

constexpr std::size_t kUpdates = 50;

std::vector<float> gradient(std::size_t n, std::uint64_t seed) {
  data::Rng rng(seed);
  std::vector<float> g(n);
  for (auto& x : g) x = static_cast<float>(rng.normal() * 1e-3);
  return g;
}

}  // namespace

void bench_tally(const BenchConfig& config, std::vector<BenchResult>& results) {
  for (std::size_t n : config.sizes) {
    const auto dim = static_cast<std::uint32_t>(n);
    std::vector<codec::SignPacket> floats, signs;
    for (std::size_t j = 0; j < kUpdates; ++j) {
      const std::vector<float> g = gradient(n, 10 + j);
      floats.push_back(codec::encode_float32(g));
      signs.push_back(codec::encode_ternary_best(codec::ternary_signs(g)));
    }
    std::vector<codec::PacketView> fv, sv;
    std::vector<double> weights;
    for (std::size_t j = 0; j < kUpdates; ++j) {
      fv.push_back(floats[j].view());
      sv.push_back(signs[j].view());
      weights.push_back(static_cast<double>(600 + j));
    }
    // The replaced summation: sum_k w_k x_k in double, in packet order.
    std::vector<double> acc(n);
    std::vector<float> out(n);
    const Timing plain = time_runs(
        [&] {
          std::fill(acc.begin(), acc.end(), 0.0);
          double total = 0.0;
          for (std::size_t k = 0; k < fv.size(); ++k) {
            total += weights[k];
            for (std::uint32_t i = 0; i < dim; ++i) {
              float x;
              std::memcpy(&x, fv[k].payload.data() + std::size_t{4} * i, 4);
              acc[i] += weights[k] * static_cast<double>(x);
            }
          }
          for (std::uint32_t i = 0; i < dim; ++i) out[i] = static_cast<float>(acc[i] / total);
          do_not_optimize(out.data());
        },
        config.timer);
    const Timing exact = time_runs(
        [&] {
          const std::vector<float> m = methods::mean_aggregate(fv, weights, dim);
          do_not_optimize(m.data());
        },
        config.timer);
    BenchResult r;
    r.group = "tally";
    r.n = n;
    r.param = fmt::format("mean M={}", kUpdates);
    r.variant = "exact (MeanTally)";
    r.best = true;
    r.time = exact;
    r.baseline = "double sum in packet order";
    r.baseline_time = plain;
    results.push_back(r);

    // The accumulation alone (no range check, no conversion to float32), per
    // tally kernel variant, tiled as MeanTally::add does.
    for (const kernels::TallyKernels* k : kernels::all_tally_kernels()) {
      std::vector<std::int64_t> limbs(3 * std::size_t{dim});
      const Timing t = time_runs(
          [&] {
            std::fill(limbs.begin(), limbs.end(), 0);
            constexpr std::size_t kTile = 1024;
            for (std::size_t at = 0; at < dim; at += kTile)
              for (std::size_t j = 0; j < fv.size(); ++j)
                k->mean_add(fv[j].payload.data() + 4 * at, weights[j], std::min<std::size_t>(kTile, dim - at),
                            limbs.data() + at, limbs.data() + dim + at, limbs.data() + 2 * std::size_t{dim} + at);
            do_not_optimize(limbs.data());
          },
          config.timer);
      BenchResult a;
      a.group = "tally";
      a.n = n;
      a.param = fmt::format("mean_add M={}", kUpdates);
      a.variant = k->name;
      a.best = k == &kernels::best_tally_kernels();
      a.time = t;
      a.baseline = "double sum in packet order";
      a.baseline_time = plain;
      results.push_back(a);
    }

    const auto& kern = kernels::best_sign_kernels();
    const Timing flat = time_runs(
        [&] {
          const methods::VoteOutcome o = methods::majority_vote_dense(sv, dim, wire::TieRule::zero, 1, kern);
          do_not_optimize(o.signs.negative.data());
        },
        config.timer);
    std::size_t tally_bytes = 0;
    const Timing tallied = time_runs(
        [&] {
          methods::VoteTally t(dim);
          for (const auto& v : sv) t.add(v);
          const methods::VoteOutcome o = methods::decide(t, methods::VoteKind::dense, wire::TieRule::zero, 1);
          do_not_optimize(o.signs.negative.data());
          tally_bytes = methods::encode_tally(methods::Tally(t)).size();
        },
        config.timer);
    std::size_t packet_bytes = 0;
    for (const auto& p : signs) packet_bytes += p.payload.size();
    BenchResult v;
    v.group = "tally";
    v.n = n;
    v.param = fmt::format("vote M={}", kUpdates);
    v.variant = "fold + decide + encode";
    v.best = true;
    v.time = tallied;
    v.baseline = "majority_vote_dense";
    v.baseline_time = flat;
    v.note = fmt::format("tally {} B vs {} B of packets ({:.1f}x smaller)", tally_bytes, packet_bytes,
                         static_cast<double>(packet_bytes) / static_cast<double>(tally_bytes));
    results.push_back(v);
  }
}

}  // namespace signfed::bench
