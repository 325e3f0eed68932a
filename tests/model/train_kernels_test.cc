// Every training-kernel variant (core/model/kernels/train_kernels.h) held to
// the scalar reference, and the reference to double-precision loops written
// here, on the preset layers' shapes and odd sizes (tails of every vector
// width, empty batches and inputs).
//
// Tolerance, per output that is a sum of K products (forward K = in, plus the
// bias; dW K = batch; dX K = out; db K = batch):
//   |variant - reference| <= (K+1) * 2^-22 * S,   S = the same sum over |terms|.
// Why: a float sum of K terms in any order, with or without FMA, is within
// K*u*S of the exact sum (u = 2^-24; Higham, Accuracy and Stability, 3.1), so
// two of them differ by at most 2*K*u*S = K*2^-23*S; the bound takes a factor
// 2 (and K+1: the forward's bias) more for S itself being computed in float. A missing or doubled term, a
// wrong bias or a wrong transpose is orders of magnitude outside it.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/model/kernels/train_kernels.h"
#include "tests/model/test_util.h"

using namespace signfed::model;
using namespace signfed::model::kernels;

namespace {

struct Shape {
  std::size_t in, out, batch;
};

// The presets' layers at B = 32 (mlp 784-128-10; cnn lenet5: conv1 as GEMM
// over 28x28 positions, conv2 over 10x10, then 400-120-84-10), and odd sizes.
std::vector<Shape> shapes() {
  std::vector<Shape> s = {{784, 128, 32}, {128, 10, 32}, {25, 6, 784 * 32}, {150, 16, 100 * 32},
                          {400, 120, 32}, {120, 84, 32}, {84, 10, 32}};
  for (std::size_t in : {0, 1, 3, 7, 8, 17, 33, 65})
    for (std::size_t out : {1, 5, 9, 16, 17, 33, 40})
      for (std::size_t batch : {0, 1, 2, 7, 31}) s.push_back({in, out, batch});
  return s;
}

std::vector<float> abs_of(const std::vector<float>& v) {
  std::vector<float> a(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) a[i] = std::fabs(v[i]);
  return a;
}

// got vs want within (k+1) * 2^-22 * mag (mag: the sum of |terms|), element by element.
void check_close(const char* what, const Shape& s, const std::vector<float>& got, const std::vector<float>& want,
                 const std::vector<float>& mag, std::size_t k) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double bound = static_cast<double>(k + 1) * 0x1p-22 * static_cast<double>(mag[i]);
    if (!(std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i])) <= bound)) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(std::string(what) << " in=" << s.in << " out=" << s.out << " batch=" << s.batch << ": " << bad << " outside the bound, first at "
            << first << (bad ? " got " + std::to_string(got[first]) + " want " + std::to_string(want[first]) : ""));
  CHECK(bad == 0);
}

struct Outputs {
  std::vector<float> z, dw, db, dx;
};

Outputs run(const TrainKernels& k, const Shape& s, const std::vector<float>& w, const std::vector<float>& b,
            const std::vector<float>& x, const std::vector<float>& dz, bool relu) {
  Outputs o;
  o.z.assign(s.out * s.batch, -7.0f);  // overwritten entirely
  o.dw.assign(s.out * s.in, -7.0f);
  o.db.assign(s.out, -7.0f);
  o.dx.assign(s.in * s.batch, -7.0f);
  k.dense_forward(w.data(), b.data(), s.in, s.out, x.data(), s.batch, o.z.data(), relu);
  k.dense_backward(w.data(), s.in, s.out, x.data(), dz.data(), s.batch, o.dw.data(), o.db.data(), o.dx.data());
  return o;
}

}  // namespace

TEST_CASE("train kernels: reference first, names unique, the active variant is the one chosen") {
  const auto all = all_train_kernels();
  REQUIRE(all.size() >= 2);  // scalar and the baseline Eigen
  CHECK(all[0] == &scalar_train_kernels());
  std::set<std::string> names;
  std::string list;
  for (const TrainKernels* k : all) {
    REQUIRE(static_cast<bool>(k->dense_forward));
    REQUIRE(static_cast<bool>(k->dense_backward));
    CHECK(names.insert(k->name).second);
    CHECK(find_train_kernels(k->name) == k);
    list += std::string(list.empty() ? "" : " ") + k->name;
  }
  CHECK(find_train_kernels("no-such-variant") == nullptr);
  const char* env = std::getenv("SIGNFED_TRAIN_KERNELS");
  // With a bad SIGNFED_TRAIN_KERNELS this throws (a CTest entry expects that message).
  const TrainKernels& active = active_train_kernels();
  if (env != nullptr && *env != '\0') {
    CHECK(std::string(active.name) == env);
  } else {
    CHECK(&active == all.back());
  }
  MESSAGE("train-kernel variants on this CPU: " << list << "; active: " << std::string(active.name));
}

TEST_CASE("train kernels: the scalar reference is within the bound of double-precision loops") {
  const TrainKernels& ref = scalar_train_kernels();
  std::uint64_t seed = 1;
  for (const Shape& s : shapes()) {
    if (s.in * s.out * s.batch > 4'000'000) continue;  // the double loops are slow; small shapes suffice here
    const auto w = test::uniform_floats(s.out * s.in, seed++, -1.0f, 1.0f);
    const auto b = test::uniform_floats(s.out, seed++, -1.0f, 1.0f);
    const auto x = test::uniform_floats(s.in * s.batch, seed++, -1.0f, 1.0f);
    const auto dz = test::uniform_floats(s.out * s.batch, seed++, -1.0f, 1.0f);
    const Outputs got = run(ref, s, w, b, x, dz, false);
    Outputs want{std::vector<float>(got.z.size()), std::vector<float>(got.dw.size()), std::vector<float>(s.out),
                 std::vector<float>(got.dx.size())};
    Outputs mag = want;
    for (std::size_t j = 0; j < s.batch; ++j)
      for (std::size_t o = 0; o < s.out; ++o) {
        double acc = b[o], m = std::fabs(b[o]);
        for (std::size_t k = 0; k < s.in; ++k) {
          acc += double{w[o * s.in + k]} * x[j * s.in + k];
          m += std::fabs(double{w[o * s.in + k]} * x[j * s.in + k]);
        }
        want.z[j * s.out + o] = static_cast<float>(acc);
        mag.z[j * s.out + o] = static_cast<float>(m);
      }
    for (std::size_t o = 0; o < s.out; ++o) {
      double accb = 0, mb = 0;
      for (std::size_t j = 0; j < s.batch; ++j) {
        accb += dz[j * s.out + o];
        mb += std::fabs(dz[j * s.out + o]);
      }
      want.db[o] = static_cast<float>(accb);
      mag.db[o] = static_cast<float>(mb);
      for (std::size_t k = 0; k < s.in; ++k) {
        double acc = 0, m = 0;
        for (std::size_t j = 0; j < s.batch; ++j) {
          acc += double{dz[j * s.out + o]} * x[j * s.in + k];
          m += std::fabs(double{dz[j * s.out + o]} * x[j * s.in + k]);
        }
        want.dw[o * s.in + k] = static_cast<float>(acc);
        mag.dw[o * s.in + k] = static_cast<float>(m);
      }
    }
    for (std::size_t j = 0; j < s.batch; ++j)
      for (std::size_t k = 0; k < s.in; ++k) {
        double acc = 0, m = 0;
        for (std::size_t o = 0; o < s.out; ++o) {
          acc += double{w[o * s.in + k]} * dz[j * s.out + o];
          m += std::fabs(double{w[o * s.in + k]} * dz[j * s.out + o]);
        }
        want.dx[j * s.in + k] = static_cast<float>(acc);
        mag.dx[j * s.in + k] = static_cast<float>(m);
      }
    check_close("z", s, got.z, want.z, mag.z, s.in + 1);
    check_close("dw", s, got.dw, want.dw, mag.dw, s.batch);
    check_close("db", s, got.db, want.db, mag.db, s.batch);
    check_close("dx", s, got.dx, want.dx, mag.dx, s.out);
  }
}

TEST_CASE("train kernels: every variant is within (K+1) * 2^-22 * sum|terms| of the scalar reference") {
  const TrainKernels& ref = scalar_train_kernels();
  for (const TrainKernels* k : all_train_kernels()) {
    INFO("variant " << std::string(k->name));
    std::uint64_t seed = 100;
    for (const Shape& s : shapes()) {
      const auto w = test::uniform_floats(s.out * s.in, seed++, -1.0f, 1.0f);
      const auto b = test::uniform_floats(s.out, seed++, -1.0f, 1.0f);
      const auto x = test::uniform_floats(s.in * s.batch, seed++, -1.0f, 1.0f);
      const auto dz = test::uniform_floats(s.out * s.batch, seed++, -1.0f, 1.0f);
      for (bool relu : {false, true}) {
        const Outputs want = run(ref, s, w, b, x, dz, relu);
        const Outputs got = run(*k, s, w, b, x, dz, relu);
        // Sums of |terms|: the reference on absolute values (relu is 1-Lipschitz: the same bound holds after it).
        const Outputs mag = run(ref, s, abs_of(w), abs_of(b), abs_of(x), abs_of(dz), false);
        check_close("z", s, got.z, want.z, mag.z, s.in + 1);
        check_close("dw", s, got.dw, want.dw, mag.dw, s.batch);
        check_close("db", s, got.db, want.db, mag.db, s.batch);
        check_close("dx", s, got.dx, want.dx, mag.dx, s.out);
      }
      // dx may alias x: the same bits as into a separate buffer.
      Outputs sep = run(*k, s, w, b, x, dz, false);
      std::vector<float> xdx = x, dw2(s.out * s.in), db2(s.out);
      k->dense_backward(w.data(), s.in, s.out, xdx.data(), dz.data(), s.batch, dw2.data(), db2.data(), xdx.data());
      CHECK(xdx == sep.dx);
      CHECK(dw2 == sep.dw);
      // dx == nullptr: dw and db as before, nothing else written.
      k->dense_backward(w.data(), s.in, s.out, x.data(), dz.data(), s.batch, dw2.data(), db2.data(), nullptr);
      CHECK(dw2 == sep.dw);
      CHECK(db2 == sep.db);
    }
  }
}
