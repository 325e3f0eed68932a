#include "tools/export/layer_plan.h"

#include <functional>
#include <map>
#include <numeric>
#include <stdexcept>

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace signfed::exporter {

using model::LayerKind;

namespace {

std::size_t prod(const std::vector<std::size_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::size_t{1}, std::multiplies<>());
}

bool has_params(LayerKind k) { return k == LayerKind::dense || k == LayerKind::conv1d || k == LayerKind::conv2d; }

// Output length of a window of `window` sliding by `stride` over n (+ padding on both sides).
std::size_t slide(std::size_t n, std::size_t window, std::size_t stride, std::size_t padding) {
  return (n + 2 * padding - window) / stride + 1;
}

}  // namespace

std::size_t ParamTensor::size() const { return prod(shape); }
std::size_t LayerPlan::input_size() const { return prod(input); }
std::size_t LayerPlan::outputs() const { return steps.empty() ? prod(input) : prod(steps.back().out); }


LayerPlan make_plan(const model::ModelSpec& spec) {
  LayerPlan plan;
  plan.input = spec.input;
  if (spec.input.empty() || spec.input.size() > 3 || prod(spec.input) == 0)
    throw std::invalid_argument(fmt::format("model input shape [{}] must be [F], [L, C] or [H, W, C] with no zero",
                                            fmt::join(spec.input, ", ")));
  std::vector<std::size_t> shape = spec.input;
  std::map<LayerKind, int> count;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    LayerStep s;
    s.spec = spec.layers[i];
    const LayerKind k = s.spec.kind;
    s.name = fmt::format("{}_{}", model::layer_kind_name(k), count[k]++);
    s.in = shape;
    const auto bad = [&](const std::string& why) {
      return std::invalid_argument(fmt::format("layer {} ({}) on input [{}]: {}", i, model::layer_kind_name(k), fmt::join(shape, ", "), why));
    };
    switch (k) {
      case LayerKind::dense:
        if (shape.size() != 1) throw bad("needs a flat input [F] (add a flatten layer before it)");
        if (s.spec.units == 0) throw bad("units must be positive");
        s.params = {{s.name + ".weight", {s.spec.units, shape[0]}}, {s.name + ".bias", {s.spec.units}}};
        shape = {s.spec.units};
        break;
      case LayerKind::conv1d:
      case LayerKind::conv2d: {
        const std::size_t dims = k == LayerKind::conv1d ? 2 : 3;
        if (shape.size() != dims) throw bad(k == LayerKind::conv1d ? "needs input [L, C]" : "needs input [H, W, C]");
        if (s.spec.filters == 0 || s.spec.kernel == 0 || s.spec.stride == 0)
          throw bad("filters, kernel and stride must be positive");
        const std::size_t c = shape.back();
        std::vector<std::size_t> out;
        for (std::size_t d = 0; d + 1 < dims; ++d) {
          if (shape[d] + 2 * s.spec.padding < s.spec.kernel) throw bad("kernel larger than the padded input");
          out.push_back(slide(shape[d], s.spec.kernel, s.spec.stride, s.spec.padding));
        }
        out.push_back(s.spec.filters);
        std::vector<std::size_t> w = {s.spec.filters, s.spec.kernel};
        if (k == LayerKind::conv2d) w.push_back(s.spec.kernel);
        w.push_back(c);
        s.params = {{s.name + ".weight", w}, {s.name + ".bias", {s.spec.filters}}};
        shape = out;
        break;
      }
      case LayerKind::max_pool1d:
      case LayerKind::avg_pool1d:
      case LayerKind::max_pool2d:
      case LayerKind::avg_pool2d: {
        const bool one = k == LayerKind::max_pool1d || k == LayerKind::avg_pool1d;
        if (shape.size() != (one ? 2u : 3u)) throw bad(one ? "needs input [L, C]" : "needs input [H, W, C]");
        if (s.spec.size == 0) throw bad("window size must be positive");
        if (s.spec.stride == 0) s.spec.stride = s.spec.size;
        for (std::size_t d = 0; d + 1 < shape.size(); ++d) {
          if (shape[d] < s.spec.size) throw bad("window larger than the input");
          shape[d] = slide(shape[d], s.spec.size, s.spec.stride, 0);
        }
        break;
      }
      case LayerKind::global_avg_pool:
        if (shape.size() < 2) throw bad("needs input [L, C] or [H, W, C]");
        shape = {shape.back()};
        break;
      case LayerKind::flatten: shape = {prod(shape)}; break;
      case LayerKind::relu:
      case LayerKind::tanh:
      case LayerKind::sigmoid:
      case LayerKind::dropout: break;
    }
    if (has_params(k))
      for (ParamTensor& t : s.params) {
        t.offset = plan.num_params;
        plan.num_params += t.size();
      }
    s.out = shape;
    plan.steps.push_back(std::move(s));
  }
  if (shape.size() != 1)
    throw std::invalid_argument(fmt::format("the last layer's output [{}] must be [K] logits (end with dense, flatten or "
                                            "global_avg_pool)", fmt::join(shape, ", ")));
  return plan;
}

}  // namespace signfed::exporter
