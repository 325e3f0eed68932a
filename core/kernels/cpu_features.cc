// CPU feature detection (cpu_features.h), shared by every dispatcher.
#include "core/kernels/cpu_features.h"

#if defined(__arm__)
#include <sys/auxv.h>  // getauxval; glibc's <bits/hwcap.h> gives HWCAP_ARM_NEON
#ifndef HWCAP_ARM_NEON
#define HWCAP_ARM_NEON (1u << 12)  // Linux ARM ABI value
#endif
#endif

namespace signfed::kernels {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.sse2 = __builtin_cpu_supports("sse2");
  f.popcnt = __builtin_cpu_supports("popcnt");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512vpopcntdq = __builtin_cpu_supports("avx512vpopcntdq");
#elif defined(__aarch64__)
  f.neon = true;  // baseline on AArch64
#elif defined(__arm__)
  f.neon = (getauxval(AT_HWCAP) & HWCAP_ARM_NEON) != 0;  // optional on 32-bit ARM
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace signfed::kernels
