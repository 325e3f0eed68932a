// Private: every kernel variant, one declaration per (op, dtype, ISA).
// Naming follows XNNPACK: <op>_<dtype>__<isa>. Only dispatch.cc, the
// tests and the benchmarks look at these; users go through SignKernels.
// Each function implements the contract of the matching typedef in
// sign_kernels.h.
#pragma once

#include "core/kernels/sign_kernels.h"

namespace signfed::kernels {

// Scalar reference (plain loops; the definition every variant must match).
void pack_signs_f32__scalar(std::span<const float> x, std::span<std::uint8_t> out);
void unpack_signs_f32__scalar(std::span<const std::uint8_t> bits, std::span<float> out);
DenseVoteCounts vote_dense_b1__scalar(std::span<const std::uint8_t* const> voters, std::size_t n,
                                      std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);
std::size_t select_topk_f32__scalar(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                    std::vector<std::uint32_t>& scratch);

// Portable fast paths (plain C++, no intrinsics): bit-sliced vote over
// 64-bit words, radix-select top-k.
DenseVoteCounts vote_dense_b1__u64(std::span<const std::uint8_t* const> voters, std::size_t n,
                                   std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);
std::size_t select_topk_f32__radix(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                   std::vector<std::uint32_t>& scratch);

// x86-64: SSE2 is baseline; AVX2 files are compiled with -mavx2 -mpopcnt and
// only called after a CPUID check.
void pack_signs_f32__sse2(std::span<const float> x, std::span<std::uint8_t> out);
void unpack_signs_f32__sse2(std::span<const std::uint8_t> bits, std::span<float> out);
DenseVoteCounts vote_dense_b1__sse2(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);

void pack_signs_f32__avx2(std::span<const float> x, std::span<std::uint8_t> out);
void unpack_signs_f32__avx2(std::span<const std::uint8_t> bits, std::span<float> out);
DenseVoteCounts vote_dense_b1__avx2(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);
std::size_t select_topk_f32__avx2(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                  std::vector<std::uint32_t>& scratch);

// AVX-512 (F + VPOPCNTDQ), compiled with those flags, called after a CPUID check.
DenseVoteCounts vote_dense_b1__avx512(std::span<const std::uint8_t* const> voters, std::size_t n,
                                      std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);

// ARM NEON (baseline on AArch64; on 32-bit ARM compiled with -mfpu=neon and
// only called when HWCAP_NEON is set).
void pack_signs_f32__neon(std::span<const float> x, std::span<std::uint8_t> out);
void unpack_signs_f32__neon(std::span<const std::uint8_t> bits, std::span<float> out);
DenseVoteCounts vote_dense_b1__neon(std::span<const std::uint8_t* const> voters, std::size_t n,
                                    std::span<std::uint8_t> negative, std::span<std::uint8_t> tie);
std::size_t select_topk_f32__neon(std::span<const float> g, std::size_t k, std::span<std::uint32_t> out,
                                  std::vector<std::uint32_t>& scratch);

}  // namespace signfed::kernels
