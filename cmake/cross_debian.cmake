# What the cross toolchain files share (toolchains/*.cmake): a Debian 12 x86_64
# host building for a Debian multiarch triplet with Debian's cross gcc. The
# toolchain file sets, then includes this file:
#   SIGNFED_CROSS_TRIPLET    GNU triplet = Debian multiarch directory, e.g. aarch64-linux-gnu
#   SIGNFED_CROSS_PROCESSOR  CMAKE_SYSTEM_PROCESSOR, e.g. aarch64
#   SIGNFED_CROSS_QEMU       user-mode qemu that runs the tests, e.g. qemu-aarch64
#
# Libraries come from Debian's multiarch packages (/usr/lib/<triplet>);
# header-only packages (Eigen, CLI11, nlohmann-json, doctest) are the host's,
# which are architecture-independent. Programs (flatc) are the host's.
# No CMAKE_SYSROOT: Debian's cross gcc already searches /usr/include and
# /usr/lib/<triplet>.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${SIGNFED_CROSS_PROCESSOR})
set(CMAKE_LIBRARY_ARCHITECTURE ${SIGNFED_CROSS_TRIPLET})

set(CMAKE_C_COMPILER ${SIGNFED_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SIGNFED_CROSS_TRIPLET}-g++)

set(CMAKE_FIND_ROOT_PATH / /usr/${SIGNFED_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # host flatc
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (cppzmq's config finds libzmq through it) must see the target's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${SIGNFED_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Cross-built tests run under user-mode qemu (CTest prefixes every test with
# CMAKE_CROSSCOMPILING_EMULATOR). Which libc the guest should load depends on
# what is installed: with Debian's multiarch libc6:<arch> present, no -L (the
# guest finds its loader and libraries in /usr/lib/<triplet>; -L /usr/<triplet>
# would mix the cross libc with the multiarch one and hang in pthread_create);
# with only the cross libc (libc6-<arch>-cross, pulled in by the cross g++),
# -L /usr/<triplet>.
string(TOUPPER "${SIGNFED_CROSS_QEMU}" _signfed_qemu_var)
string(REPLACE "-" "_" _signfed_qemu_var "SIGNFED_${_signfed_qemu_var}")  # SIGNFED_QEMU_AARCH64, SIGNFED_QEMU_ARM
find_program(${_signfed_qemu_var} ${SIGNFED_CROSS_QEMU} PATHS /usr/bin NO_CMAKE_FIND_ROOT_PATH)
if(${_signfed_qemu_var})
  if(EXISTS /usr/lib/${SIGNFED_CROSS_TRIPLET}/libc.so.6)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${${_signfed_qemu_var}})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${${_signfed_qemu_var}} -L /usr/${SIGNFED_CROSS_TRIPLET})
  endif()
endif()
