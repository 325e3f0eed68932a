// signfed-bench-train: wall time of one local training step (Model::loss_and_grad:
// forward, backward, gradient written flat) per model, single-threaded.
//
// Output, one line per model (parsed by compare_torch.sh):
//   signfed <spec> batch=<B> us_per_step=<median> min_us=<min> steps=<total> params=<n> kernels=<variant>
// kernels: the training-kernel variant in use (train_kernels.h; SIGNFED_TRAIN_KERNELS overrides it).
// The median over repetitions is reported because the machine may be shared.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "core/model/kernels/train_kernels.h"
#include "core/model/model.h"

namespace {

struct Options {
  std::size_t batch = 32;
  int reps = 7;
  double rep_seconds = 0.3;
  std::vector<std::string> models = {"mlp", "cnn"};
};

void usage() {
  fmt::print(stderr,
             "usage: signfed-bench-train [--batch N] [--reps R] [--rep-seconds S] [--model SPEC]...\n"
             "  times Model::loss_and_grad; default models: mlp cnn, batch 32\n");
}

bool parse(int argc, char** argv, Options& o) {
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--batch") {
      o.batch = std::strtoul(v, nullptr, 10);
    } else if (a == "--reps") {
      o.reps = std::atoi(v);
    } else if (a == "--rep-seconds") {
      o.rep_seconds = std::atof(v);
    } else if (a == "--model") {
      models.emplace_back(v);
    } else {
      return false;
    }
  }
  if (!models.empty()) o.models = models;
  return o.batch > 0 && o.reps > 0 && o.rep_seconds > 0;
}

// Deterministic inputs in [0,1) and labels; the values do not affect timing.
void make_batch(std::size_t n, std::size_t dim, std::size_t classes, std::vector<float>& x,
                std::vector<std::uint8_t>& y) {
  std::uint64_t s = 0x243F6A8885A308D3ULL;
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  x.resize(n * dim);
  for (float& v : x) v = static_cast<float>(next() >> 40) * 0x1.0p-24f;
  y.resize(n);
  for (auto& l : y) l = static_cast<std::uint8_t>(next() % classes);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse(argc, argv, opt)) {
    usage();
    return 2;
  }
  Eigen::setNbThreads(1);
  using Clock = std::chrono::steady_clock;
  for (const std::string& spec : opt.models) {
    auto model = signfed::model::make_model(spec, 1);
    std::vector<float> x, grad(model->num_params());
    std::vector<std::uint8_t> y;
    make_batch(opt.batch, model->input_size(), model->num_classes(), x, y);

    // Warm up (sizes scratch, faults pages in) and calibrate steps per repetition.
    std::size_t steps = 1;
    for (;;) {
      const auto t0 = Clock::now();
      for (std::size_t i = 0; i < steps; ++i) model->loss_and_grad(x, y, opt.batch, grad);
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      if (dt >= opt.rep_seconds / 4) {
        steps = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(steps) * opt.rep_seconds / dt));
        break;
      }
      steps *= 2;
    }
    std::vector<double> us;
    for (int r = 0; r < opt.reps; ++r) {
      const auto t0 = Clock::now();
      for (std::size_t i = 0; i < steps; ++i) model->loss_and_grad(x, y, opt.batch, grad);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / static_cast<double>(steps));
    }
    std::sort(us.begin(), us.end());
    fmt::print("signfed {} batch={} us_per_step={:.1f} min_us={:.1f} steps={} params={} kernels={}\n", model->spec(),
               opt.batch, us[us.size() / 2], us.front(), steps * static_cast<std::size_t>(opt.reps), model->num_params(),
               signfed::model::kernels::active_train_kernels().name);
    std::fflush(stdout);
  }
  return 0;
}
