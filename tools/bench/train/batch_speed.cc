// signfed-bench-batch: would batching K simulated clients' training steps into one
// GEMM pay (issue 13 item 3, docs/simulation.md "Batching clients' forward
// passes: measured, not built")? Not a test: run by hand,
//   build/release/tools/bench/train/signfed-bench-batch [K...]        (default K = 4 16 64 256)
//   SIGNFED_TRAIN_KERNELS=sse2 build/release/tools/bench/train/signfed-bench-batch
//
// K clients, each with its own minibatch of B = 32 samples, all at the same
// parameters (what every non-fedavg method computes in a round). Three ways,
// timed in alternating blocks in one process (the machine is shared), each
// printed as the median of the per-block ratios to "per client":
//   per client   K calls of loss_and_grad at B (what the simulator does)
//   batched      the default MLP (784-128-10) by hand on the same kernels:
//                both dense forwards over all B*K columns at once and the
//                output layer's delta propagation W2^T dZ2 too; loss and
//                weight gradients per client. Checked bit-identical to "per
//                client" (gradients and losses), so it is what a batched
//                simulator could do without changing a digest.
//   one batch    one loss_and_grad at B*K: every GEMM batched, the weight
//                gradient summed over all clients (not a per-client gradient:
//                an upper bound on what batching could save), for the mlp and
//                cnn presets.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include <fmt/core.h>

#include "core/model/internal/layers.h"
#include "core/model/kernels/train_kernels.h"
#include "core/model/model.h"
#include "tests/model/test_util.h"

namespace {

using namespace signfed::model;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 32;

double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }

template <class F>
double time_us(F&& f) {
  const double t0 = now_us();
  f();
  return now_us() - t0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The K clients' data: client c's samples are columns c*B .. c*B+B-1.
struct Clients {
  std::size_t k, in, classes;
  std::vector<float> x;
  std::vector<std::uint8_t> y;
  Clients(std::size_t k_, const Model& m)
      : k(k_), in(m.input_size()), classes(m.num_classes()), x(test::uniform_floats(k * kBatch * in, 3)),
        y(test::random_labels(k * kBatch, classes, 4)) {}
  std::span<const float> xs(std::size_t c) const { return std::span(x).subspan(c * kBatch * in, kBatch * in); }
  std::span<const std::uint8_t> ys(std::size_t c) const { return std::span(y).subspan(c * kBatch, kBatch); }
};

// K loss_and_grad calls; gradients into g (K x num_params), losses into loss.
void per_client(Model& m, const Clients& d, std::vector<float>& g, std::vector<double>& loss) {
  const std::size_t n = m.num_params();
  for (std::size_t c = 0; c < d.k; ++c) loss[c] = m.loss_and_grad(d.xs(c), d.ys(c), kBatch, std::span(g).subspan(c * n, n));
}

// The default MLP's step for K clients with the forward batched (see the top).
struct BatchedMlp {
  static constexpr std::size_t in = 784, hid = 128, out = 10;
  std::vector<float> z1, z2, d2, d1;
  explicit BatchedMlp(std::size_t k) : z1(hid * kBatch * k), z2(out * kBatch * k), d2(z2.size()), d1(z1.size()) {}

  void run(const Model& m, const Clients& d, std::vector<float>& g, std::vector<double>& loss) {
    const std::size_t n = m.num_params(), cols = kBatch * d.k;
    const float* w1 = m.params().data();  // spec.h's layout: W1 b1 W2 b2
    const float *b1 = w1 + hid * in, *w2 = b1 + hid, *b2 = w2 + out * hid;
    detail::dense_forward(w1, b1, in, hid, d.x.data(), cols, z1.data(), true);
    detail::dense_forward(w2, b2, hid, out, z1.data(), cols, z2.data(), false);
    for (std::size_t c = 0; c < d.k; ++c)  // per client: the mean is over its own batch
      loss[c] = detail::softmax_xent(z2.data() + c * out * kBatch, d.y.data() + c * kBatch, out, kBatch,
                                     d2.data() + c * out * kBatch)
                    .loss_sum /
                static_cast<double>(kBatch);
    // Output layer backward: dW2 per client, then dZ1 = W2^T dZ2 over all columns at once.
    for (std::size_t c = 0; c < d.k; ++c) {
      float* gw2 = g.data() + c * n + hid * in + hid;
      detail::dense_backward(w2, hid, out, z1.data() + c * hid * kBatch, d2.data() + c * out * kBatch, kBatch, gw2,
                             gw2 + out * hid, nullptr);
    }
    detail::dense_backward(w2, hid, out, z1.data(), d2.data(), cols, scratch_w(), scratch_b(), d1.data());
    detail::relu_backward(d1.data(), z1.data(), d1.size());
    for (std::size_t c = 0; c < d.k; ++c) {
      float* gw1 = g.data() + c * n;
      detail::dense_backward(w1, in, hid, d.x.data() + c * in * kBatch, d1.data() + c * hid * kBatch, kBatch, gw1,
                             gw1 + hid * in, nullptr);
    }
  }
  // dense_backward always writes dW and db; the batched call's are discarded.
  // (A batched API would split the kernel; here the waste is timed against us.)
  float* scratch_w() { return w_.data(); }
  float* scratch_b() { return b_.data(); }
  std::vector<float> w_ = std::vector<float>(out * hid), b_ = std::vector<float>(out);
};

void mlp_batched(std::size_t k, int blocks) {
  const auto m = make_model("mlp", 1);
  const Clients d(k, *m);
  const std::size_t n = m->num_params();
  std::vector<float> g_ref(k * n), g_bat(k * n);
  std::vector<double> l_ref(k), l_bat(k);
  BatchedMlp b(k);
  per_client(*m, d, g_ref, l_ref);
  b.run(*m, d, g_bat, l_bat);
  const bool same = std::memcmp(g_ref.data(), g_bat.data(), g_ref.size() * sizeof(float)) == 0 && l_ref == l_bat;
  std::vector<double> t_ref, ratio;
  for (int i = 0; i < blocks; ++i) {
    const double a = time_us([&] { per_client(*m, d, g_ref, l_ref); });
    const double c = time_us([&] { b.run(*m, d, g_bat, l_bat); });
    t_ref.push_back(a / static_cast<double>(k)), ratio.push_back(c / a);
  }
  fmt::print("mlp K={:<4} per client {:7.1f} us/client   batched forward / per client {:.3f}   bit-identical: {}\n", k,
             median(t_ref), median(ratio), same ? "yes" : "NO");
}

void one_batch(const char* spec, std::size_t k, int blocks) {
  const auto m = make_model(spec, 1);
  const Clients d(k, *m);
  const std::size_t n = m->num_params();
  std::vector<float> g(k * n), g_all(n);
  std::vector<double> loss(k);
  per_client(*m, d, g, loss);
  m->loss_and_grad(d.x, d.y, kBatch * k, g_all);
  std::vector<double> t_ref, ratio;
  for (int i = 0; i < blocks; ++i) {
    const double a = time_us([&] { per_client(*m, d, g, loss); });
    const double c = time_us([&] { m->loss_and_grad(d.x, d.y, kBatch * k, g_all); });
    t_ref.push_back(a / static_cast<double>(k)), ratio.push_back(c / a);
  }
  fmt::print("{:<4} K={:<4} per client {:7.1f} us/client   one batch of B*K / per client {:.3f}\n", spec, k,
             median(t_ref), median(ratio));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> ks;
  for (int i = 1; i < argc; ++i) ks.push_back(static_cast<std::size_t>(std::atoi(argv[i])));
  if (ks.empty()) ks = {4, 16, 64, 256};
  fmt::print("training kernels: {}, B = {}, medians over alternating blocks\n",
             kernels::active_train_kernels().name, kBatch);
  for (std::size_t k : ks) {
    const int blocks = static_cast<int>(std::max<std::size_t>(15, 2048 / k));
    mlp_batched(k, blocks);
    one_batch("mlp", k, blocks);
    one_batch("cnn", k, std::max(5, blocks / 8));
  }
}
