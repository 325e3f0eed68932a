// Benchmark groups for the sign kernels: every variant this CPU runs, each
// against a baseline timed in the same process on the same buffers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>

#include "tools/bench/bench_registry.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::bench {
namespace {

namespace k = signfed::kernels;

constexpr std::uint64_t kSeed = 42;

// Gradient-like data: normal, small scale (the top-k target is about real
// gradients, not uniform noise).
std::vector<float> gradient(std::size_t n) {
  std::mt19937_64 rng(kSeed);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  std::vector<float> g(n);
  for (auto& v : g) v = normal(rng);
  return g;
}

Timing memcpy_time(void* dst, const void* src, std::size_t bytes, const TimerConfig& timer) {
  return time_runs(
      [&] {
        std::memcpy(dst, src, bytes);
        do_not_optimize(dst);
      },
      timer);
}

// What the rows of one measurement share; each kernel variant adds its time.
struct RowSpec {
  const char* group;
  std::size_t n;
  std::string param;
  const char* baseline;
  Timing base;
  Goal goal;
  double target;
};

// Times run(kernels) for every kernel variant this CPU has, one row each.
template <class Run>
void time_each_kernel(const BenchConfig& config, std::vector<BenchResult>& results, const RowSpec& spec, Run run) {
  for (const k::SignKernels* kern : k::all_sign_kernels()) {
    BenchResult r;
    r.time = time_runs([&] { run(*kern); }, config.timer);
    r.group = spec.group;
    r.n = spec.n;
    r.param = spec.param;
    r.variant = kern->name;
    r.best = kern == &k::best_sign_kernels();
    r.baseline = spec.baseline;
    r.baseline_time = spec.base;
    r.goal = spec.goal;
    r.target = spec.target;
    results.push_back(std::move(r));
  }
}

}  // namespace

namespace {
// pack (f32 -> bits) or unpack (bits -> +-1.0f), against a memcpy of the 4N float bytes.
void bench_signs(const BenchConfig& config, std::vector<BenchResult>& results, bool pack) {
  for (std::size_t n : config.sizes) {
    std::vector<float> x = gradient(n), out(n, 0.0f), copy(n, 0.0f);
    std::vector<std::uint8_t> bits(k::packed_bytes(n), 0);
    if (!pack) k::scalar_sign_kernels().pack_signs(x, bits);
    const Timing base = memcpy_time(copy.data(), x.data(), n * sizeof(float), config.timer);
    const RowSpec spec = pack ? RowSpec{"pack", n, "", "memcpy 4N B", base, Goal::kRatioAtMost, 1.0}
                              : RowSpec{"unpack", n, "", "memcpy 4N B", base, Goal::kNone, 0};
    time_each_kernel(config, results, spec, [&](const k::SignKernels& kern) {
      if (pack) {
        kern.pack_signs(x, bits);
        do_not_optimize(bits.data());
      } else {
        kern.unpack_signs(bits, out);
        do_not_optimize(out.data());
      }
    });
  }
}
}  // namespace

void bench_pack(const BenchConfig& config, std::vector<BenchResult>& results) { bench_signs(config, results, true); }

void bench_unpack(const BenchConfig& config, std::vector<BenchResult>& results) {
  bench_signs(config, results, false);
}

void bench_vote(const BenchConfig& config, std::vector<BenchResult>& results) {
  for (std::size_t n : config.sizes) {
    for (std::size_t m : {10, 100}) {
      // All packets in one block (as a receive buffer would hold them).
      const std::size_t nb = k::packed_bytes(n);
      std::vector<std::uint8_t> packets(m * nb), copy(m * nb, 0);
      std::mt19937_64 rng(kSeed + m);
      for (auto& b : packets) b = static_cast<std::uint8_t>(rng() >> 56);
      std::vector<const std::uint8_t*> voters(m);
      for (std::size_t j = 0; j < m; ++j) voters[j] = packets.data() + j * nb;
      std::vector<std::uint8_t> negative(nb), tie(nb);
      const Timing base = memcpy_time(copy.data(), packets.data(), packets.size(), config.timer);
      time_each_kernel(config, results,
                       {"vote", n, "M=" + std::to_string(m), "memcpy M*N/8 B", base, Goal::kRatioAtMost, 2.0},
                       [&](const k::SignKernels& kern) {
                         const k::DenseVoteCounts c = kern.vote_dense(voters, n, negative, tie);
                         do_not_optimize_value(c);
                         do_not_optimize(negative.data());
                         do_not_optimize(tie.data());
                       });
    }
  }
}

void bench_topk(const BenchConfig& config, std::vector<BenchResult>& results) {
  for (std::size_t n : config.sizes) {
    const std::vector<float> g = gradient(n);
    std::vector<float> mag(n);
    std::vector<std::uint32_t> out(n), scratch;
    for (int percent : {1, 10}) {
      const std::size_t kk = std::max<std::size_t>(1, n * static_cast<std::size_t>(percent) / 100);
      // Baseline: |g| into a buffer, then nth_element for the k-th largest.
      const Timing base = time_runs(
          [&] {
            for (std::size_t i = 0; i < n; ++i) mag[i] = std::fabs(g[i]);
            std::nth_element(mag.begin(), mag.begin() + static_cast<std::ptrdiff_t>(kk - 1), mag.end(),
                             std::greater<>());
            do_not_optimize(mag.data());
          },
          config.timer);
      time_each_kernel(
          config, results,
          {"topk", n, "K=" + std::to_string(percent) + "%", "nth_element |g|", base, Goal::kSpeedupAtLeast, 3.0},
          [&](const k::SignKernels& kern) {
            const std::size_t w = kern.select_topk(g, kk, out, scratch);
            do_not_optimize_value(w);
            do_not_optimize(out.data());
          });
    }
  }
}

}  // namespace signfed::bench
