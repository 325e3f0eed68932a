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
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

set(CMAKE_FIND_ROOT_PATH / /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # host flatc
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Tests run under qemu-arm. Which libc the guest should load depends on what
# is installed: with the multiarch libc6:armhf present, no -L (as for aarch64:
# -L with multiarch libc hangs on thread start); with only the cross libc
# (libc6-armhf-cross, from g++-arm-linux-gnueabihf), -L /usr/arm-linux-gnueabihf.
find_program(SIGNFED_QEMU_ARM qemu-arm PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(SIGNFED_QEMU_ARM)
  if(EXISTS /usr/lib/arm-linux-gnueabihf/libc.so.6)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${SIGNFED_QEMU_ARM})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${SIGNFED_QEMU_ARM} -L /usr/arm-linux-gnueabihf)
  endif()
endif()
