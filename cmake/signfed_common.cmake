# What every signfed CMake project shares: the top-level build and the
# kernels-only cross build (tests/arm/kernels_only) both include this file.
#
#   signfed_options   INTERFACE target every signfed target links: the one include
#                     root (the repository: #include "core/codec/packet.h"),
#                     warnings, and no FMA contraction
#   SIGNFED_X86 / SIGNFED_ARM   target processor family, for the SIMD kernel files
#   SIGNFED_ROOT      the repository root
get_filename_component(SIGNFED_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

option(SIGNFED_WERROR "Treat warnings in signfed's own code as errors" ON)
option(SIGNFED_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

# Warnings as errors for our code only, and no FMA contraction so that
# x - delta*s rounds the same on every ISA (edge and coordinator replicas must
# stay bit-identical).
add_library(signfed_options INTERFACE)
target_include_directories(signfed_options INTERFACE ${SIGNFED_ROOT})
target_compile_options(signfed_options INTERFACE
  -Wall -Wextra -Wpedantic $<$<BOOL:${SIGNFED_WERROR}>:-Werror>
  -ffp-contract=off)
# Every function and datum in a section of its own, and the linker drops what
# nothing references: a board maps less (signfed-edge: 2.36 -> 2.09 MB of
# text, ~0.23 MB less peak RSS, docs/perf-edge.md). Not with the sanitizers
# or libFuzzer, whose instrumentation sections are found by name, not by reference.
if(NOT SIGNFED_SANITIZE AND NOT SIGNFED_FUZZ)
  target_compile_options(signfed_options INTERFACE -ffunction-sections -fdata-sections)
  target_link_options(signfed_options INTERFACE -Wl,--gc-sections)
endif()
if(SIGNFED_SANITIZE)
  target_compile_options(signfed_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(signfed_options INTERFACE -fsanitize=address,undefined)
endif()

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" SIGNFED_ARCH)
if(SIGNFED_ARCH MATCHES "x86_64|amd64|i.86")
  set(SIGNFED_X86 ON)
elseif(SIGNFED_ARCH MATCHES "aarch64|arm64|^arm")
  set(SIGNFED_ARM ON)
endif()
