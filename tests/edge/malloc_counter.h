// Counts calls to the C allocator (malloc, calloc, realloc, aligned_alloc,
// posix_memalign, memalign, valloc, pvalloc) made by this process, by
// defining those functions in the test executable: they count and forward to
// glibc's __libc_* entry points. Operator new (libstdc++ calls malloc) and
// Eigen's aligned_malloc (calls malloc directly) are both seen.
//
// Counts are kept for the whole process and for the calling thread. Between
// start_sites() and stop_sites() every allocation's call stack is also kept
// (glibc backtrace(), into fixed storage: up to kMaxStacks) and classified:
//  * libzmq: a frame lies in libzmq's code (in the thread that called
//    start_sites(), or in another: libzmq's I/O thread);
//  * Eigen: a frame is one of Eigen's internal functions (the GEMM's packing
//    buffers; needs the test linked with ENABLE_EXPORTS so that
//    backtrace_symbols names them);
//  * ours: everything else.
// print_sites() shows one stack per distinct allocation site with its count:
// the evidence of where each allocation comes from.
//
// Unavailable under AddressSanitizer (which owns malloc): available() says
// false, and tests/edge/CMakeLists.txt builds the allocation tests only when
// SIGNFED_SANITIZE is off (SIGNFED_MALLOC_COUNTING).
#pragma once

#include <cstddef>
#include <cstdio>

namespace signfed::edge::test {

bool malloc_counting_available();
std::size_t malloc_calls();         // allocations so far, all threads
std::size_t thread_malloc_calls();  // allocations so far by the calling thread

inline constexpr std::size_t kMaxStacks = 8192;

// Where the allocations between start_sites() and stop_sites() came from.
struct SiteCounts {
  std::size_t ours = 0;        // no libzmq or Eigen frame on the stack, any thread
  std::size_t eigen = 0;       // inside Eigen (GEMM packing buffers), any thread
  std::size_t zmq_caller = 0;  // inside libzmq, in the thread that called start_sites()
  std::size_t zmq_io = 0;      // inside libzmq, in another thread (its I/O thread)
  std::size_t lost = 0;        // beyond kMaxStacks: not classified
};
void start_sites();  // clears the kept stacks
SiteCounts stop_sites();
// One stack per distinct site (the same first frames), with its count and
// class, symbolised by glibc's backtrace_symbols_fd (static functions show as
// binary+offset: resolve with addr2line). Call after stop_sites().
void print_sites(std::FILE* out);

}  // namespace signfed::edge::test
