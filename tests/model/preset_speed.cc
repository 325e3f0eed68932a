// preset-speed: the training step (loss_and_grad) of each preset on the
// generic engine (make_model) against the reference Mlp/Cnn, timed in the same
// process in alternating blocks; prints the median of the paired per-block
// ratios (robust to load changes on a shared machine). Not a test: run by hand,
//   build-rel/tests/model/preset_speed [blocks]
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include <fmt/core.h>

#include "tests/model/reference/cnn.h"
#include "tests/model/reference/mlp.h"
#include "core/model/model.h"
#include "tests/model/test_util.h"

namespace {

using signfed::model::Model;
using Clock = std::chrono::steady_clock;

double block_us(Model& m, const std::vector<float>& x, const std::vector<std::uint8_t>& y, std::size_t batch,
                std::vector<float>& g, int steps) {
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) m.loss_and_grad(x, y, batch, g);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / steps;
}

void compare(const char* name, Model& ref, Model& gen, int blocks, int steps) {
  const std::size_t batch = 32;
  const auto x = signfed::model::test::uniform_floats(batch * ref.input_size(), 1);
  const auto y = signfed::model::test::random_labels(batch, ref.num_classes(), 2);
  std::vector<float> g(ref.num_params());
  block_us(ref, x, y, batch, g, steps);  // warm up, size scratch
  block_us(gen, x, y, batch, g, steps);
  std::vector<double> r, a, b;
  for (int i = 0; i < blocks; ++i) {
    const double t_ref = block_us(ref, x, y, batch, g, steps);
    const double t_gen = block_us(gen, x, y, batch, g, steps);
    a.push_back(t_ref), b.push_back(t_gen), r.push_back(t_gen / t_ref);
  }
  std::sort(r.begin(), r.end()), std::sort(a.begin(), a.end()), std::sort(b.begin(), b.end());
  fmt::print("{} batch={} reference_us={:.1f} generic_us={:.1f} (medians) ratio generic/reference: median {:.3f} "
             "[min {:.3f}, max {:.3f}] over {} blocks of {} steps\n",
             name, batch, a[a.size() / 2], b[b.size() / 2], r[r.size() / 2], r.front(), r.back(), blocks, steps);
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  const int blocks = argc > 1 ? std::atoi(argv[1]) : 21;
  signfed::model::Mlp mlp({784, 128, 10}, 1);
  signfed::model::Cnn cnn(1);
  const auto gen_mlp = signfed::model::make_model("mlp", 1);
  const auto gen_cnn = signfed::model::make_model("cnn", 1);
  compare("mlp:784-128-10", mlp, *gen_mlp, blocks, 40);
  compare("cnn:lenet5", cnn, *gen_cnn, blocks, 8);
  return 0;
}
