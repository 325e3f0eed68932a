// Counts calls to the C allocator (malloc, calloc, realloc, aligned_alloc,
// posix_memalign, memalign, valloc, pvalloc) made by this process, by
// defining those functions in the test executable: they count and forward to
// glibc's __libc_* entry points. Operator new (libstdc++ calls malloc) and
// Eigen's aligned_malloc (calls malloc directly) are both seen.
//
// Unavailable under AddressSanitizer (which owns malloc); available() then
// says false and tests skip their allocation checks.
#pragma once

#include <cstddef>

namespace signfed::edge::test {

bool malloc_counting_available();
std::size_t malloc_calls();  // allocations so far, all threads

}  // namespace signfed::edge::test
