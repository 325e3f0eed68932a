# What every signfed CMake project's test tree shares (the top-level build and
# the kernels-only cross build): doctest, CTest, the test main, and
# signfed_unit_test().
#
# Each suite is a doctest executable registered with CTest by
# doctest_discover_tests. In a cross build (CMAKE_CROSSCOMPILING) the unit
# suites run under the toolchain's CMAKE_CROSSCOMPILING_EMULATOR (qemu-user)
# and are labelled "emulated" instead of "unit" (ctest --preset aarch64 -L
# emulated). One label, because doctest_discover_tests cannot pass a list
# through PROPERTIES.
find_package(doctest REQUIRED)
include(CTest)
include(doctest)

add_library(signfed_test_main STATIC ${SIGNFED_ROOT}/tests/test_main.cc)
target_link_libraries(signfed_test_main PUBLIC doctest::doctest)

# In a cross build, signfed_emulated_tests builds every emulated suite and
# nothing else (tools/ci_arm.sh: the suites and signfed-edge, not every tool).
if(CMAKE_CROSSCOMPILING AND NOT TARGET signfed_emulated_tests)
  add_custom_target(signfed_emulated_tests)
endif()

function(signfed_unit_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE doctest::doctest signfed_test_main signfed_options)
  if(CMAKE_CROSSCOMPILING)
    add_dependencies(signfed_emulated_tests ${name})
    doctest_discover_tests(${name} PROPERTIES LABELS emulated)
  else()
    doctest_discover_tests(${name} PROPERTIES LABELS unit)
  endif()
endfunction()
