// AVX-512 (F) mean accumulation: 8 coordinates per step, otherwise as
// tally_avx2.cc (compiled with -mavx512f -ffp-contract=off; tally_dispatch.cc
// calls it after a CPUID check).
#include <immintrin.h>

#include "core/kernels/internal/tally_term.h"
#include "core/kernels/internal/tally_ukernels.h"

namespace signfed::kernels {

void mean_add_f32__avx512(const std::uint8_t* x, double wf, std::size_t n, std::int64_t* l0, std::int64_t* l1,
                          std::int64_t* l2) {
  using namespace tally_detail;
  const __m512d magic = _mm512_set1_pd(kMagic), scale = _mm512_set1_pd(kLimbScale), w = _mm512_set1_pd(wf);
  const __m512i magic_bits = _mm512_set1_epi64(kMagicBits);
  auto limb_add = [&](std::int64_t* l, __m512d q) {
    _mm512_storeu_si512(l, _mm512_add_epi64(_mm512_loadu_si512(l),
                                            _mm512_sub_epi64(_mm512_castpd_si512(q), magic_bits)));
  };
  // (Not _mm512_cvtps_pd: GCC 12's header builds it on an undefined operand
  // and -Werror trips on it; the zero-masked form converts every lane alike.)
  auto widen = [](__m256 f) { return _mm512_maskz_cvtps_pd(0xFF, f); };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d t = _mm512_mul_pd(widen(_mm256_loadu_ps(reinterpret_cast<const float*>(x + 4 * i))), w);
    const __m512d q0 = _mm512_add_pd(t, magic);
    const __m512d r1 = _mm512_mul_pd(_mm512_sub_pd(t, _mm512_sub_pd(q0, magic)), scale);
    const __m512d q1 = _mm512_add_pd(r1, magic);
    const __m512d r2 = _mm512_mul_pd(_mm512_sub_pd(r1, _mm512_sub_pd(q1, magic)), scale);
    limb_add(l0 + i, q0);
    limb_add(l1 + i, q1);
    limb_add(l2 + i, _mm512_add_pd(r2, magic));
  }
  mean_add_tail(x, wf, i, n, l0, l1, l2);
}

}  // namespace signfed::kernels
