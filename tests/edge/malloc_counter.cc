#include "tests/edge/malloc_counter.h"

#include <execinfo.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define SIGNFED_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIGNFED_COUNT_MALLOC 0
#endif
#endif
#ifndef SIGNFED_COUNT_MALLOC
#define SIGNFED_COUNT_MALLOC 1
#endif

namespace {
using signfed::edge::test::kMaxStacks;

std::atomic<std::size_t> g_calls{0};
thread_local std::size_t t_calls = 0;

// Allocation stacks, in storage that needs no allocation (this runs inside
// malloc). A slot is claimed with an atomic counter, so threads never share one.
constexpr int kFrames = 24;
enum Origin { ours, eigen, zmq_caller, zmq_io };
struct Stack {
  void* frames[kFrames];
  int depth;
  std::size_t bytes;
  Origin origin;
};
Stack g_stacks[kMaxStacks];
std::atomic<std::size_t> g_next{0};
std::atomic<bool> g_recording{false};
std::uintptr_t g_zmq_lo = 0, g_zmq_hi = 0;  // libzmq's executable segment, set before recording
thread_local bool t_in_hook = false;        // backtrace() must not record itself
thread_local bool t_recorder = false;

int find_zmq(dl_phdr_info* info, std::size_t, void*) {
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "libzmq") == nullptr) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      g_zmq_lo = info->dlpi_addr + ph.p_vaddr;
      g_zmq_hi = g_zmq_lo + ph.p_memsz;
    }
  }
  return 1;
}

[[maybe_unused]] void count(std::size_t bytes) {  // called by the hooks below (not built under ASan)
  g_calls.fetch_add(1, std::memory_order_relaxed);
  ++t_calls;
  if (!g_recording.load(std::memory_order_relaxed) || t_in_hook) return;
  t_in_hook = true;
  const std::size_t slot = g_next.fetch_add(1);
  if (slot < kMaxStacks) {
    Stack& s = g_stacks[slot];
    s.depth = backtrace(s.frames, kFrames);
    s.bytes = bytes;
    bool in_zmq = false;
    for (int i = 0; i < s.depth; ++i) {
      const auto a = reinterpret_cast<std::uintptr_t>(s.frames[i]);
      in_zmq = in_zmq || (a >= g_zmq_lo && a < g_zmq_hi);
    }
    s.origin = !in_zmq ? ours : t_recorder ? zmq_caller : zmq_io;  // Eigen is told apart after recording
  }
  t_in_hook = false;
}

// Reclassifies the stacks of "ours" that pass through Eigen's internals, under
// its own namespace or a training kernel's renamed one (signfed_eigen_<isa>,
// core/model/kernels) (symbol names need the executable's symbols exported:
// ENABLE_EXPORTS).
void classify_eigen(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    Stack& s = g_stacks[i];
    if (s.origin != ours) continue;
    char** names = backtrace_symbols(s.frames, s.depth);
    if (names == nullptr) continue;
    for (int f = 0; f < s.depth; ++f)
      if (std::strstr(names[f], "N5Eigen8internal") != nullptr ||
          (std::strstr(names[f], "signfed_eigen_") != nullptr && std::strstr(names[f], "8internal") != nullptr))
        s.origin = eigen;
    std::free(names);
  }
}

// Two stacks are one site when their first frames above malloc agree.
bool same_site(const Stack& a, const Stack& b) {
  const int n = std::min({a.depth, b.depth, 10});
  if (a.origin != b.origin) return false;
  for (int i = 0; i < n; ++i)
    if (a.frames[i] != b.frames[i]) return false;
  return true;
}
}  // namespace

namespace signfed::edge::test {
bool malloc_counting_available() { return SIGNFED_COUNT_MALLOC != 0; }
std::size_t malloc_calls() { return g_calls.load(std::memory_order_relaxed); }
std::size_t thread_malloc_calls() { return t_calls; }

void start_sites() {
  void* prime[2];
  backtrace(prime, 2);  // loads libgcc_s now, not inside a counted allocation
  dl_iterate_phdr(find_zmq, nullptr);
  g_next.store(0);
  t_recorder = true;
  g_recording.store(true);
}

SiteCounts stop_sites() {
  g_recording.store(false);
  t_recorder = false;
  const std::size_t total = g_next.load();
  const std::size_t n = std::min(total, kMaxStacks);
  classify_eigen(n);
  SiteCounts c;
  c.lost = total - n;
  for (std::size_t i = 0; i < n; ++i) {
    switch (g_stacks[i].origin) {
      case ours: ++c.ours; break;
      case eigen: ++c.eigen; break;
      case zmq_caller: ++c.zmq_caller; break;
      case zmq_io: ++c.zmq_io; break;
    }
  }
  return c;
}

void print_sites(std::FILE* out) {
  static constexpr const char* kOrigin[] = {"our code", "Eigen (GEMM packing)", "libzmq, client's thread",
                                            "libzmq, I/O thread"};
  const std::size_t n = std::min(g_next.load(), kMaxStacks);
  for (std::size_t i = 0; i < n; ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = same_site(g_stacks[j], g_stacks[i]);
    if (seen) continue;
    std::size_t count = 0, bytes_min = SIZE_MAX, bytes_max = 0;
    for (std::size_t j = i; j < n; ++j)
      if (same_site(g_stacks[i], g_stacks[j])) {
        ++count;
        bytes_min = std::min(bytes_min, g_stacks[j].bytes);
        bytes_max = std::max(bytes_max, g_stacks[j].bytes);
      }
    std::fprintf(out, "--- site: %zu allocations of %zu..%zu bytes by %s\n", count, bytes_min, bytes_max,
                 kOrigin[g_stacks[i].origin]);
    std::fflush(out);
    backtrace_symbols_fd(g_stacks[i].frames, g_stacks[i].depth, fileno(out));
  }
}
}  // namespace signfed::edge::test

#if SIGNFED_COUNT_MALLOC
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
void __libc_free(void*);

void* malloc(std::size_t n) {
  count(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count(k * n);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count(n);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
  count(n);
  return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) { return memalign(a, n); }
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  void* p = memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t n) {
  count(n);
  return __libc_valloc(n);
}
void* pvalloc(std::size_t n) {
  count(n);
  return __libc_pvalloc(n);
}
void free(void* p) { __libc_free(p); }
}
#endif
