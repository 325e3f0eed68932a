// Benchmark group "topk-layout": is top-k's speed a function of where its
// buffers sit? Each top-k variant is timed at the first bench size with the
// input placed at every 64-byte offset of a 4 KiB page, and with the stack
// shifted by every multiple of 64 bytes up to 4 KiB (ASLR moves the stack by
// sub-page amounts and heap/mmap buffers by whole pages only, so together the
// two sweeps cover every address-bits-0..11 relation a fresh process can
// bring). Row: the slowest offset against the fastest (both min over runs);
// a layout effect like the one issue 13 reported (5x) shows as a large ratio,
// and the note names the worst offset.
#include <alloca.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "core/kernels/sign_kernels.h"
#include "tools/bench/bench_registry.h"

namespace signfed::bench {
namespace {

namespace k = signfed::kernels;

constexpr std::size_t kPage = 4096;
constexpr std::size_t kStep = 64;

// Same data as the topk group (bench_kernels.cc): normal, sigma 1e-3, seed 42.
std::vector<float> gradient(std::size_t n) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  std::vector<float> g(n);
  for (auto& v : g) v = normal(rng);
  return g;
}

struct Sweep {
  double fastest_s = 1e30, slowest_s = 0;
  std::size_t worst_offset = 0;
  void add(std::size_t offset, double s) {
    fastest_s = std::min(fastest_s, s);
    if (s > slowest_s) {
      slowest_s = s;
      worst_offset = offset;
    }
  }
};

// Runs fn with the stack pointer `pad` bytes lower than it would be.
template <class F>
[[gnu::noinline]] double with_stack_pad(std::size_t pad, F&& fn) {
  auto* p = static_cast<volatile char*>(alloca(pad + 1));
  p[0] = 0;
  return fn();
}

}  // namespace

void bench_topk_layout(const BenchConfig& config, std::vector<BenchResult>& results) {
  const std::size_t n = config.sizes.front();
  const std::vector<float> g = gradient(n);
  // A page-aligned window with room for every offset.
  std::vector<float> room(n + 2 * kPage / sizeof(float));
  const auto addr = reinterpret_cast<std::uintptr_t>(room.data());
  float* page = room.data() + ((kPage - addr % kPage) % kPage) / sizeof(float);
  std::vector<std::uint32_t> out(n), scratch;
  TimerConfig timer{0.0, 7, 7};  // 7 runs per offset: 2 x 64 offsets per row

  for (int percent : {1, 10}) {
    const std::size_t kk = std::max<std::size_t>(1, n * static_cast<std::size_t>(percent) / 100);
    for (const k::SignKernels* kern : k::all_sign_kernels()) {
      auto run_at = [&](const float* x) {
        return time_runs(
                   [&] {
                     const std::size_t w = kern->select_topk({x, n}, kk, out, scratch);
                     do_not_optimize_value(w);
                     do_not_optimize(out.data());
                   },
                   timer)
            .min_s;
      };
      Sweep input, stack;
      for (std::size_t off = 0; off < kPage; off += kStep) {
        float* x = page + off / sizeof(float);
        std::memcpy(x, g.data(), n * sizeof(float));
        input.add(off, run_at(x));
      }
      std::memcpy(page, g.data(), n * sizeof(float));
      for (std::size_t pad = 0; pad < kPage; pad += kStep) stack.add(pad, with_stack_pad(pad, [&] { return run_at(page); }));

      for (const auto& [what, sw] : {std::pair{"input +B", input}, std::pair{"stack -B", stack}}) {
        BenchResult r;
        r.group = "topk-layout";
        r.n = n;
        r.param = "K=" + std::to_string(percent) + "%";
        r.variant = kern->name;
        r.best = kern == &k::best_sign_kernels();
        r.time = {sw.slowest_s, sw.slowest_s, static_cast<int>(kPage / kStep)};
        r.baseline = std::string("fastest ") + what;
        r.baseline_time = {sw.fastest_s, sw.fastest_s, static_cast<int>(kPage / kStep)};
        r.goal = Goal::kRatioAtMost;
        r.target = 1.5;
        r.note = "slowest of " + std::to_string(kPage / kStep) + " offsets (" + what + "): at " +
                 std::to_string(sw.worst_offset);
        results.push_back(std::move(r));
      }
    }
  }
}

}  // namespace signfed::bench
