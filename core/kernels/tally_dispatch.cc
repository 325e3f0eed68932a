// Tally kernel table and start-up selection, as dispatch.cc for the sign
// kernels: which variants exist is decided at build time, which run at first
// use, from the CPU.
#include <array>

#include "core/kernels/cpu_features.h"
#include "core/kernels/variant_list.h"
#include "core/kernels/internal/tally_ukernels.h"

namespace signfed::kernels {
namespace {

constexpr TallyKernels kScalar{"scalar", mean_add_f32__scalar};
#if defined(SIGNFED_KERNELS_X86)
constexpr TallyKernels kAvx2{"avx2", mean_add_f32__avx2};
constexpr TallyKernels kAvx512{"avx512", mean_add_f32__avx512};
#endif

using Supported = VariantList<TallyKernels, 3>;

Supported detect() {
  Supported s;
  s.add(kScalar);  // reference first
  [[maybe_unused]] const CpuFeatures& cpu = cpu_features();
#if defined(SIGNFED_KERNELS_X86)
  if (cpu.avx2) s.add(kAvx2);
  if (cpu.avx2 && cpu.avx512f) s.add(kAvx512);
#endif
  return s;
}

const Supported& supported() {
  static const Supported s = detect();
  return s;
}

}  // namespace

const TallyKernels& scalar_tally_kernels() { return kScalar; }

std::span<const TallyKernels* const> all_tally_kernels() {
  return supported().all();
}

// Ordered slowest to fastest: the last entry is the best.
const TallyKernels& best_tally_kernels() {
  return supported().best();
}

}  // namespace signfed::kernels
