// AVX2 mean accumulation: 4 coordinates per step, the reference's operations
// lane by lane (compiled with -mavx2 -ffp-contract=off; tally_dispatch.cc
// calls it after a CPUID check). Doubles and int64 lanes share a register
// through casts, which is what the compiler would not do for the scalar loop.
#include <immintrin.h>

#include "core/kernels/internal/tally_term.h"
#include "core/kernels/internal/tally_ukernels.h"

namespace signfed::kernels {

void mean_add_f32__avx2(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                        std::int64_t* l2) {
  using namespace tally_detail;
  const __m256d magic = _mm256_set1_pd(kMagic), scale = _mm256_set1_pd(kLimbScale), w = _mm256_set1_pd(wf);
  const __m256i magic_bits = _mm256_set1_epi64x(kMagicBits);
  auto limb_add = [&](std::int64_t* l, __m256d q) {
    auto* p = reinterpret_cast<__m256i*>(l);
    _mm256_storeu_si256(p, _mm256_add_epi64(_mm256_loadu_si256(p),
                                            _mm256_sub_epi64(_mm256_castpd_si256(q), magic_bits)));
  };
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d t = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float*>(x + 4 * i))), w);
    const __m256d q0 = _mm256_add_pd(t, magic);
    const __m256d r1 = _mm256_mul_pd(_mm256_sub_pd(t, _mm256_sub_pd(q0, magic)), scale);
    const __m256d q1 = _mm256_add_pd(r1, magic);
    const __m256d r2 = _mm256_mul_pd(_mm256_sub_pd(r1, _mm256_sub_pd(q1, magic)), scale);
    limb_add(l0 + i, q0);
    limb_add(l1 + i, q1);
    limb_add(l2 + i, _mm256_add_pd(r2, magic));
  }
  mean_add_tail(x, wf, i, n, l0, l1, l2);
}

}  // namespace signfed::kernels
