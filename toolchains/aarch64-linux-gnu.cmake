# Cross toolchain: Debian 12 x86_64 host -> aarch64 Linux (Raspberry Pi 3/4/5 on a
# 64-bit OS, Jetson, other ARMv8-A boards).
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libzmq3-dev:arm64 cppzmq-dev:arm64 libsqlite3-dev:arm64 zlib1g-dev:arm64 libflatbuffers-dev:arm64 \
#                   libsqlitecpp-dev:arm64 libboost-dev:arm64
# Usage: cmake --preset aarch64   (or -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake)
#
# Libraries come from Debian's multiarch packages (/usr/lib/aarch64-linux-gnu);
# header-only packages (Eigen, CLI11, nlohmann-json, doctest) are the host's,
# which are architecture-independent. Programs (flatc) are the host's.
# No CMAKE_SYSROOT: Debian's cross gcc already searches /usr/include and
# /usr/lib/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(CMAKE_FIND_ROOT_PATH / /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # host flatc
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (cppzmq's config finds libzmq through it) must see arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Cross-built tests run under user-mode qemu (CTest prefixes every test with
# this). No -L: with Debian's multiarch libc6:arm64 installed, the guest finds
# its loader and libraries in /usr/lib/aarch64-linux-gnu; "-L /usr/aarch64-linux-gnu"
# mixes the cross libc with the multiarch one and hangs in pthread_create.
find_program(SIGNFED_QEMU_AARCH64 qemu-aarch64 PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(SIGNFED_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SIGNFED_QEMU_AARCH64})
endif()
