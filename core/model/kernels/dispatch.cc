// Training-kernel variant table and start-up selection (train_kernels.h).
// Which variants exist is decided at build time (SIGNFED_TRAIN_KERNELS_X86,
// set by CMake); which of them may run, from the CPU features the sign
// kernels' dispatcher also uses (core/kernels/cpu_features.h); which one runs,
// once, from SIGNFED_TRAIN_KERNELS or else the fastest.
#include <array>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/kernels/cpu_features.h"
#include "core/kernels/variant_list.h"
#include "core/model/kernels/dense_variants.h"
#include "core/model/kernels/train_kernels.h"

namespace signfed::model::kernels {
namespace {

constexpr TrainKernels kScalar{"scalar", dense_forward_f32__scalar, dense_backward_f32__scalar};
#if defined(__x86_64__) || defined(__i386__)
constexpr const char* kBaselineName = "sse2";
#elif defined(__aarch64__)
constexpr const char* kBaselineName = "neon";
#else
constexpr const char* kBaselineName = "portable";
#endif
constexpr TrainKernels kBaseline{kBaselineName, dense_forward_f32__baseline, dense_backward_f32__baseline};
#if defined(SIGNFED_TRAIN_KERNELS_X86)
constexpr TrainKernels kAvx2{"avx2", dense_forward_f32__avx2, dense_backward_f32__avx2};
constexpr TrainKernels kAvx512{"avx512", dense_forward_f32__avx512, dense_backward_f32__avx512};
#endif

using Supported = signfed::kernels::VariantList<TrainKernels, 4>;

Supported detect() {
  Supported s;
  s.add(kScalar);  // reference first
  s.add(kBaseline);
#if defined(SIGNFED_TRAIN_KERNELS_X86)
  const signfed::kernels::CpuFeatures& cpu = signfed::kernels::cpu_features();
  if (cpu.avx2 && cpu.fma) s.add(kAvx2);
  if (cpu.avx2 && cpu.fma && cpu.avx512f) s.add(kAvx512);
#endif
  return s;
}

const Supported& supported() {
  static const Supported s = detect();
  return s;
}

// The environment is read here, once (a function-local static, so no global
// mutable state); a bad value makes the initialisation throw, and C++ retries
// it, so every later call throws the same error.
const TrainKernels& choose() {
  const char* env = std::getenv("SIGNFED_TRAIN_KERNELS");
  const Supported& s = supported();
  if (env == nullptr || *env == '\0') return s.best();
  if (const TrainKernels* k = find_train_kernels(env)) return *k;
  std::string names;
  for (const TrainKernels* k : s.all()) names += std::string(names.empty() ? "" : ", ") + k->name;
  throw std::runtime_error("SIGNFED_TRAIN_KERNELS=" + std::string(env) +
                           " is not a training-kernel variant this build and CPU can run (choose one of: " + names +
                           ")");
}

}  // namespace

const TrainKernels& scalar_train_kernels() { return kScalar; }

std::span<const TrainKernels* const> all_train_kernels() {
  return supported().all();
}

const TrainKernels* find_train_kernels(std::string_view name) {
  for (const TrainKernels* k : all_train_kernels()) {
    if (name == k->name) return k;
  }
  return nullptr;
}

const TrainKernels& active_train_kernels() {
  static const TrainKernels& k = choose();
  return k;
}

}  // namespace signfed::model::kernels
