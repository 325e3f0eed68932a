// VariantList: the variants of one kernel family that this build and CPU can
// run, in the order a dispatcher adds them: the scalar reference first, the
// fastest last. Each dispatcher (core/kernels/dispatch.cc, tally_dispatch.cc,
// core/model/kernels/dispatch.cc) fills one once at first use, in a
// function-local static (thread-safe initialisation, no global mutable
// state), from tables of its own type `Table` (constexpr, static storage:
// the list holds pointers to them). N: how many variants the build can have.
#pragma once

#include <array>
#include <cstddef>
#include <span>

namespace signfed::kernels {

template <class Table, std::size_t N>
struct VariantList {
  std::array<const Table*, N> list{};
  std::size_t count = 0;

  void add(const Table& k) { list[count++] = &k; }
  std::span<const Table* const> all() const { return {list.data(), count}; }
  const Table& best() const { return *list[count - 1]; }
};

}  // namespace signfed::kernels
