#include "core/model/layered_model.h"

#include <algorithm>
#include <span>
#include <utility>

#include "core/model/internal/losses.h"

namespace signfed::model {
namespace {

bool has_params(LayerKind k) { return k == LayerKind::dense || k == LayerKind::conv1d || k == LayerKind::conv2d; }

bool passes_through(LayerKind k) {  // spec.h's init rule skips these looking for a relu
  return k == LayerKind::max_pool1d || k == LayerKind::max_pool2d || k == LayerKind::avg_pool1d ||
         k == LayerKind::avg_pool2d || k == LayerKind::global_avg_pool || k == LayerKind::flatten ||
         k == LayerKind::dropout;
}

// Does layer i's output next pass through a relu?
bool relu_follows(const std::vector<LayerSpec>& layers, std::size_t i) {
  for (std::size_t j = i + 1; j < layers.size(); ++j) {
    if (layers[j].kind == LayerKind::relu) return true;
    if (!passes_through(layers[j].kind)) return false;
  }
  return false;
}

// A conv layer's window over its input shape (spec.h: conv1d [L, C], conv2d [H, W, C]).
detail::Window conv_window(const LayerSpec& l, const std::vector<std::size_t>& in) {
  detail::Window g;
  g.stride = l.stride;
  if (l.kind == LayerKind::conv2d) {
    g.h = in[0], g.w = in[1], g.c = in[2], g.kh = l.kernel, g.kw = l.kernel, g.pad_h = l.padding;
  } else {
    g.w = in[0], g.c = in[1], g.kw = l.kernel;
  }
  g.pad_w = l.padding;
  return g;
}

detail::Window pool_window(const LayerSpec& l, const std::vector<std::size_t>& in) {
  detail::Window g;
  g.stride = l.stride;
  if (in.size() == 3) {
    g.h = in[0], g.w = in[1], g.c = in[2], g.kh = l.size, g.kw = l.size;
  } else {
    g.w = in[0], g.c = in[1], g.kw = l.size;
  }
  return g;
}

bool is_max_pool(LayerKind k) { return k == LayerKind::max_pool1d || k == LayerKind::max_pool2d; }

std::size_t product(const std::vector<std::size_t>& s) {
  std::size_t n = 1;
  for (std::size_t d : s) n *= d;
  return n;
}

}  // namespace

LayeredModel::LayeredModel(ModelSpec spec, std::uint64_t seed, Init init, std::string name, const char* error_prefix)
    : FlatModel(error_prefix), arch_(std::move(spec)), name_(std::move(name)), dropout_rng_(~seed) {
  const std::vector<LayerShape> shapes = layer_shapes(arch_);
  input_size_ = model::input_size(arch_);
  outputs_ = shapes.back().out[0];
  classes_ = model::num_classes(arch_);
  std::size_t n = 0;
  for (const LayerShape& s : shapes) n += s.params;
  params_.assign(n, 0.0f);  // never resized again: stages point into it
  init_params(shapes, seed, init);
  plan(shapes);
}

void LayeredModel::init_params(const std::vector<LayerShape>& shapes, std::uint64_t seed, Init init) {
  detail::SplitMix64 rng(seed);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < arch_.layers.size(); ++i) {
    const LayerSpec& l = arch_.layers[i];
    if (!has_params(l.kind)) continue;
    const std::vector<std::size_t>& in = i == 0 ? arch_.input : shapes[i - 1].out;
    std::size_t fan_in = 0, fan_out = 0, bias = 0;
    if (l.kind == LayerKind::dense) {
      fan_in = in[0], fan_out = l.units, bias = l.units;
    } else {
      const std::size_t area = l.kind == LayerKind::conv2d ? l.kernel * l.kernel : l.kernel;
      fan_in = area * in.back(), fan_out = l.filters * area, bias = l.filters;
    }
    const std::size_t weights = shapes[i].params - bias;
    std::span<float> p = std::span<float>(params_).subspan(offset, shapes[i].params);
    if (init == Init::torch) {  // W then b, U(+-1/sqrt(fan_in)), as torch.nn.Linear / Conv
      detail::fill_uniform_symmetric(p, detail::torch_limit(fan_in), rng);
    } else {  // He before a relu, else Glorot; biases stay 0 (and draw nothing)
      const float limit = detail::uniform_limit(relu_follows(arch_.layers, i) ? fan_in : fan_in + fan_out);
      detail::fill_uniform_symmetric(p.first(weights), limit, rng);
    }
    offset += shapes[i].params;
  }
}

void LayeredModel::plan(const std::vector<LayerShape>& shapes) {
  const std::vector<LayerSpec>& layers = arch_.layers;
  // The gradient buffers hold stage outputs' gradients only: the first
  // stage's input gradient is never asked for (backward passes nullptr), so
  // the input's width (784 for MNIST) does not count.
  widest_ = 0;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const std::vector<std::size_t>& in = i == 0 ? arch_.input : shapes[i - 1].out;
    const std::size_t in_size = product(in);
    const float* w = params_.data() + offset;
    std::unique_ptr<detail::Stage> stage;
    auto next_is = [&](auto pred) { return i + 1 < layers.size() && pred(layers[i + 1].kind); };
    switch (l.kind) {
      case LayerKind::dense: {
        const bool relu = next_is([](LayerKind k) { return k == LayerKind::relu; });
        stage = detail::make_dense_stage(w, in_size, l.units, relu);
        offset += shapes[i].params;
        i += relu ? 1 : 0;
        break;
      }
      case LayerKind::conv1d:
      case LayerKind::conv2d: {
        const std::size_t own = shapes[i].params;
        const bool relu = next_is([](LayerKind k) { return k == LayerKind::relu; });
        i += relu ? 1 : 0;
        detail::Window pool;
        pool.kh = 0;  // none
        if (next_is(is_max_pool)) {
          ++i;
          pool = pool_window(layers[i], shapes[i - 1].out);
        }
        stage = detail::make_conv_stage(w, conv_window(l, in), l.filters, relu, pool);
        offset += own;
        break;
      }
      case LayerKind::max_pool1d:
      case LayerKind::max_pool2d: stage = detail::make_pool_stage(detail::PoolKind::max, pool_window(l, in)); break;
      case LayerKind::avg_pool1d:
      case LayerKind::avg_pool2d: stage = detail::make_pool_stage(detail::PoolKind::avg, pool_window(l, in)); break;
      case LayerKind::global_avg_pool: {
        detail::Window g;
        g.h = in.size() == 3 ? in[0] : 1, g.w = in[in.size() - 2], g.c = in.back();
        stage = detail::make_pool_stage(detail::PoolKind::global_avg, g);
        break;
      }
      case LayerKind::flatten: continue;  // the bytes are already flat
      case LayerKind::relu:
      case LayerKind::tanh:
      case LayerKind::sigmoid: stage = detail::make_activation_stage(l.kind, in_size); break;
      case LayerKind::dropout: stage = detail::make_dropout_stage(l.rate, in_size, &dropout_rng_); break;
    }
    grad_offset_.push_back(static_cast<std::size_t>(w - params_.data()));
    stages_.push_back(std::move(stage));
    widest_ = std::max(widest_, product(shapes[i].out));  // i: the stage's last layer
  }
  ins_.assign(stages_.size(), nullptr);
}

void LayeredModel::allocate_scratch(std::size_t batch) {
  for (auto& s : stages_) s->reserve(batch);
  delta_.assign(2 * widest_ * batch, 0.0f);
}

const float* LayeredModel::run(const float* x, std::size_t batch, bool training) {
  const float* a = x;
  for (std::size_t k = 0; k < stages_.size(); ++k) {
    ins_[k] = a;
    a = stages_[k]->forward(a, batch, training);
  }
  return a;
}

double LayeredModel::backward(const float* /*x: in ins_*/, const std::uint8_t* y, std::size_t batch, float* grad) {
  float* d = delta_.data();                          // dL/d(output) of the current stage
  float* d_in = delta_.data() + widest_ * capacity_;  // dL/d(input) it writes
  const detail::XentResult r = detail::apply_loss(arch_.loss, out_, y, outputs_, batch, d);
  for (std::size_t k = stages_.size(); k-- > 0;) {
    stages_[k]->backward(ins_[k], d, batch, grad + grad_offset_[k], k == 0 ? nullptr : d_in);
    std::swap(d, d_in);
  }
  return r.loss_sum;
}

double LayeredModel::score(const float* outputs, const std::uint8_t* y, std::size_t b, std::size_t* correct) {
  const detail::XentResult r = detail::apply_loss(arch_.loss, outputs, y, outputs_, b, nullptr);
  *correct = r.correct;
  return r.loss_sum;
}

}  // namespace signfed::model
