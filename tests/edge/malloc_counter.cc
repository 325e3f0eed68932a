#include "tests/edge/malloc_counter.h"

#include <atomic>
#include <cerrno>

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
std::atomic<std::size_t> g_calls{0};
}  // namespace

namespace signfed::edge::test {
bool malloc_counting_available() { return SIGNFED_COUNT_MALLOC != 0; }
std::size_t malloc_calls() { return g_calls.load(std::memory_order_relaxed); }
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
  g_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
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
  g_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_valloc(n);
}
void* pvalloc(std::size_t n) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  return __libc_pvalloc(n);
}
void free(void* p) { __libc_free(p); }
}
#endif
