#include "tests/model/reference/mlp.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

#include "core/model/init.h"
#include "core/model/internal/layers.h"

namespace signfed::model {

std::vector<std::size_t> Mlp::parse_spec(std::string_view spec) {
  if (spec == "mlp") return {784, 128, 10};
  constexpr std::string_view kPrefix = "mlp:";
  if (!spec.starts_with(kPrefix)) {
    throw std::invalid_argument("bad model spec '" + std::string(spec) + "': expected mlp or mlp:A-B-...-Z");
  }
  std::vector<std::size_t> sizes;
  std::string_view rest = spec.substr(kPrefix.size());
  while (true) {
    const std::size_t dash = rest.find('-');
    const std::string_view tok = rest.substr(0, dash);
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (tok.empty() || ec != std::errc() || end != tok.data() + tok.size()) {
      throw std::invalid_argument("bad model spec '" + std::string(spec) + "': '" + std::string(tok) +
                                  "' is not a layer size (expected mlp:A-B-...-Z, e.g. mlp:784-128-10)");
    }
    sizes.push_back(v);
    if (dash == std::string_view::npos) break;
    rest = rest.substr(dash + 1);
  }
  return sizes;
}

Mlp::Mlp(std::vector<std::size_t> sizes, std::uint64_t seed, Init init) : FlatModel("mlp"), sizes_(std::move(sizes)) {
  if (sizes_.size() < 2) {
    throw std::invalid_argument("mlp needs at least an input and an output size, got " +
                                std::to_string(sizes_.size()) + " size(s)");
  }
  for (std::size_t s : sizes_) {
    if (s == 0 || s > kMaxLayerSize) {
      throw std::invalid_argument("mlp layer size " + std::to_string(s) + " is outside [1, " +
                                  std::to_string(kMaxLayerSize) + "]");
    }
  }
  if (sizes_.back() < 2 || sizes_.back() > 256) {
    throw std::invalid_argument("mlp output size " + std::to_string(sizes_.back()) +
                                " is outside [2, 256] (labels are uint8 class indices)");
  }
  const std::size_t layers = sizes_.size() - 1;
  std::size_t n = 0;
  std::size_t a = 0;
  for (std::size_t l = 0; l < layers; ++l) {
    param_offset_.push_back(n);
    act_offset_.push_back(a);
    n += sizes_[l] * sizes_[l + 1] + sizes_[l + 1];
    a += sizes_[l + 1];
  }
  act_offset_.push_back(a);  // total activation floats per sample
  params_.assign(n, 0.0f);

  arch_ = preset_spec(spec());

  detail::SplitMix64 rng(seed);
  for (std::size_t l = 0; l < layers; ++l) {
    const std::size_t in = sizes_[l];
    const std::size_t out = sizes_[l + 1];
    if (init == Init::torch) {  // W_l then b_l, as torch.nn.Linear(in, out)
      detail::fill_uniform_symmetric(std::span<float>(params_).subspan(param_offset_[l], in * out + out),
                                     detail::torch_limit(in), rng);
      continue;
    }
    const bool output_layer = l + 1 == layers;
    const float limit = detail::uniform_limit(output_layer ? in + out : in);
    detail::fill_uniform_symmetric(std::span<float>(params_).subspan(param_offset_[l], in * out), limit, rng);
  }
}

std::string Mlp::spec() const {
  std::string s = "mlp:";
  for (std::size_t i = 0; i < sizes_.size(); ++i) {
    if (i != 0) s += '-';
    s += std::to_string(sizes_[i]);
  }
  return s;
}

void Mlp::allocate_scratch(std::size_t batch) {
  const std::size_t widest = *std::max_element(sizes_.begin() + 1, sizes_.end());
  acts_.assign(act_offset_.back() * batch, 0.0f);
  delta_.assign(2 * widest * batch, 0.0f);
}

void Mlp::forward(const float* x, std::size_t batch) {
  const float* in = x;
  const std::size_t layers = sizes_.size() - 1;
  for (std::size_t l = 0; l < layers; ++l) {
    const float* w = params_.data() + param_offset_[l];
    const float* b = w + sizes_[l] * sizes_[l + 1];
    float* out = act(l);
    detail::dense_forward(w, b, sizes_[l], sizes_[l + 1], in, batch, out, l + 1 < layers);
    in = out;
  }
}

double Mlp::backward(const float* x, const std::uint8_t* y, std::size_t batch, float* grad) {
  const std::size_t layers = sizes_.size() - 1;
  const std::size_t widest = delta_.size() / (2 * capacity_);
  float* d = delta_.data();                       // dL/dz of the current layer
  float* d_next = delta_.data() + widest * capacity_;  // dL/da of the layer below
  const detail::XentResult xent = detail::softmax_xent(act(layers - 1), y, num_classes(), batch, d);

  for (std::size_t l = layers; l-- > 0;) {
    const std::size_t in = sizes_[l];
    const std::size_t out = sizes_[l + 1];
    const float* w = params_.data() + param_offset_[l];
    float* dw = grad + param_offset_[l];
    const float* a_in = l == 0 ? x : act(l - 1);
    detail::dense_backward(w, in, out, a_in, d, batch, dw, dw + in * out, l == 0 ? nullptr : d_next);
    if (l != 0) {
      detail::relu_backward(d_next, a_in, in * batch);
      std::swap(d, d_next);
    }
  }
  return xent.loss_sum;
}

const float* Mlp::logits(const float* x, std::size_t b) {
  forward(x, b);
  return act(sizes_.size() - 2);
}


}  // namespace signfed::model
