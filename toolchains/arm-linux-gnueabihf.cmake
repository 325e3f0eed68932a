# Cross toolchain: Debian 12 x86_64 host -> 32-bit ARM Linux, hard-float
# (ARMv7-A + VFPv3-D16, Debian armhf ABI; Raspberry Pi 2/3/4 on a 32-bit OS).
#   apt-get install g++-arm-linux-gnueabihf qemu-user
# Full client (needs Debian's armhf libraries):
#   dpkg --add-architecture armhf && apt-get update
#   apt-get install libzmq3-dev:armhf cppzmq-dev:armhf libsqlite3-dev:armhf zlib1g-dev:armhf libflatbuffers-dev:armhf
#   cmake --preset armhf
# Kernels only (no foreign library; what CI runs when the armhf index is not
# installable): cmake -S tests/arm/kernels_only -B build/armhf-kernels --toolchain toolchains/arm-linux-gnueabihf.cmake
#
# NEON is optional on ARMv7: the kernel files that use it are compiled with
# -mfpu=neon (core/kernels/CMakeLists.txt) and run only when HWCAP_NEON is set.
# Libraries and qemu-arm's -L: see cmake/cross_debian.cmake.
set(SIGNFED_CROSS_TRIPLET arm-linux-gnueabihf)
set(SIGNFED_CROSS_PROCESSOR armv7l)
set(SIGNFED_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/../cmake/cross_debian.cmake)
