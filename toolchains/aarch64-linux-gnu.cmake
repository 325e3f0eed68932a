# Cross toolchain: Debian 12 x86_64 host -> aarch64 Linux (Raspberry Pi 3/4/5 on a
# 64-bit OS, Jetson, other ARMv8-A boards).
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libzmq3-dev:arm64 cppzmq-dev:arm64 libsqlite3-dev:arm64 zlib1g-dev:arm64 libflatbuffers-dev:arm64 \
#                   libsqlitecpp-dev:arm64 libboost-dev:arm64 libfmt-dev:arm64 libzip-dev:arm64
# Usage: cmake --preset aarch64   (or -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake)
#
# Libraries from Debian's arm64 multiarch packages, tests under qemu-aarch64:
# see cmake/cross_debian.cmake.
set(SIGNFED_CROSS_TRIPLET aarch64-linux-gnu)
set(SIGNFED_CROSS_PROCESSOR aarch64)
set(SIGNFED_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/cross_debian.cmake)
