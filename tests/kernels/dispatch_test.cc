#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/kernels/sign_kernels.h"

using namespace signfed::kernels;

TEST_CASE("kernels.dispatch: reference first, best is the last supported variant, chosen once") {
  const auto all = all_sign_kernels();
  REQUIRE(!all.empty());
  CHECK(all[0] == &scalar_sign_kernels());
  CHECK(&best_sign_kernels() == all.back());
  CHECK(&best_sign_kernels() == &best_sign_kernels());
  std::set<std::string> names;
  for (const SignKernels* k : all) {
    REQUIRE(static_cast<bool>(k->pack_signs));
    REQUIRE(static_cast<bool>(k->unpack_signs));
    REQUIRE(static_cast<bool>(k->vote_dense));
    REQUIRE(static_cast<bool>(k->select_topk));
    CHECK(names.insert(k->name).second);  // unique names
  }
  std::string list;
  for (const SignKernels* k : all) list += std::string(list.empty() ? "" : " ") + k->name;
  MESSAGE("variants on this CPU: " << list << "; best: " << std::string(best_sign_kernels().name));
}

#if defined(__aarch64__)
TEST_CASE("kernels.dispatch: NEON is compiled in and picked on AArch64 (baseline there)") {
  CHECK(std::string(best_sign_kernels().name) == "neon");
}
#endif
