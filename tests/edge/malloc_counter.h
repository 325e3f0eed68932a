// Counts calls to the C allocator (malloc, calloc, realloc, aligned_alloc,
// posix_memalign, memalign, valloc, pvalloc) made by this process, by
// defining those functions in the test executable: they count and forward to
// glibc's __libc_* entry points. Operator new (libstdc++ calls malloc) and
// Eigen's aligned_malloc (calls malloc directly) are both seen.
//
// Unavailable under AddressSanitizer (which owns malloc): available() says
// false, and tests/edge/CMakeLists.txt builds the allocation tests only when
// SIGNFED_SANITIZE is off (SIGNFED_MALLOC_COUNTING).
#pragma once

#include <cstddef>

namespace signfed::edge::test {

bool malloc_counting_available();
std::size_t malloc_calls();  // allocations so far, all threads

}  // namespace signfed::edge::test
