// CPU features the kernel dispatchers choose variants by, detected once.
//
// One detector for every kernel family (sign kernels here, the training-step
// kernels in core/model/kernels/): a flag is true only if the CPU has the
// feature AND the build compiled variants for its family (x86: CPUID via
// __builtin_cpu_supports, which also checks that the OS saves the AVX/AVX-512
// state; 32-bit ARM: HWCAP_NEON; AArch64: NEON is baseline).
// Thread-safe: the first call initialises a function-local static.
#pragma once

namespace signfed::kernels {

struct CpuFeatures {
  bool sse2 = false;        // x86-64 baseline
  bool popcnt = false;
  bool avx2 = false;
  bool fma = false;         // FMA3
  bool avx512f = false;
  bool avx512vpopcntdq = false;
  bool neon = false;        // ARM Advanced SIMD
};

const CpuFeatures& cpu_features();

}  // namespace signfed::kernels
