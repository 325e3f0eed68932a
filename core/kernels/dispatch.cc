// Variant table and start-up selection. Which variants exist is decided at
// build time (SIGNFED_KERNELS_X86 / SIGNFED_KERNELS_NEON, set by CMake); which
// of them run is decided once, at first use, from the CPU.
#include <array>

#include "core/kernels/cpu_features.h"
#include "core/kernels/variant_list.h"
#include "core/kernels/internal/ukernels.h"

namespace signfed::kernels {
namespace {

constexpr SignKernels kScalar{"scalar", pack_signs_f32__scalar, unpack_signs_f32__scalar, vote_dense_b1__scalar,
                              select_topk_f32__scalar};
// Portable fast paths: bit-sliced 64-bit vote, radix-select top-k.
constexpr SignKernels kPortable{"portable", pack_signs_f32__scalar, unpack_signs_f32__scalar, vote_dense_b1__u64,
                                select_topk_f32__radix};
#if defined(SIGNFED_KERNELS_X86)
constexpr SignKernels kSse2{"sse2", pack_signs_f32__sse2, unpack_signs_f32__sse2, vote_dense_b1__sse2,
                            select_topk_f32__radix};
constexpr SignKernels kAvx2{"avx2", pack_signs_f32__avx2, unpack_signs_f32__avx2, vote_dense_b1__avx2,
                            select_topk_f32__avx2};
// AVX-512 only pays for the vote; the other kernels are memory-bound at AVX2.
constexpr SignKernels kAvx512{"avx512", pack_signs_f32__avx2, unpack_signs_f32__avx2, vote_dense_b1__avx512,
                              select_topk_f32__avx2};
#endif
#if defined(SIGNFED_KERNELS_NEON)
constexpr SignKernels kNeon{"neon", pack_signs_f32__neon, unpack_signs_f32__neon, vote_dense_b1__neon,
                            select_topk_f32__neon};
#endif

using Supported = VariantList<SignKernels, 6>;

Supported detect() {
  Supported s;
  s.add(kScalar);  // reference first
  s.add(kPortable);
  [[maybe_unused]] const CpuFeatures& cpu = cpu_features();
#if defined(SIGNFED_KERNELS_X86)
  s.add(kSse2);  // baseline on x86-64
  const bool avx2 = cpu.avx2 && cpu.popcnt;
  if (avx2) s.add(kAvx2);
  if (avx2 && cpu.avx512f && cpu.avx512vpopcntdq) s.add(kAvx512);
#endif
#if defined(SIGNFED_KERNELS_NEON)
  if (cpu.neon) s.add(kNeon);  // baseline on AArch64, optional on 32-bit ARM
#endif
  return s;
}

// Chosen once; function-local static: thread-safe initialisation, no global state.
const Supported& supported() {
  static const Supported s = detect();
  return s;
}

}  // namespace

const SignKernels& scalar_sign_kernels() { return kScalar; }

std::span<const SignKernels* const> all_sign_kernels() {
  return supported().all();
}

// The list is ordered slowest to fastest: the last entry is the best.
const SignKernels& best_sign_kernels() {
  return supported().best();
}

}  // namespace signfed::kernels
