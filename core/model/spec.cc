// Names, shape inference and validation, presets (spec.h). The JSON form is
// in spec_json.cc.
#include "core/model/spec.h"

#include <charconv>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace signfed::model {
namespace {

constexpr std::size_t kMaxDim = std::size_t{1} << 24;
constexpr std::size_t kMaxParams = std::size_t{1} << 31;
constexpr std::size_t kMaxOutputs = 256;  // labels are uint8

[[noreturn]] void fail(std::size_t i, const LayerSpec& l, const std::string& what) {
  throw std::invalid_argument(fmt::format("layers[{}] ({}): {}", i, layer_kind_name(l.kind), what));
}

std::string shape_text(const std::vector<std::size_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// a * b, failing (via the caller's message) past kMaxParams; operands are <= 2^31.
bool mul_ok(std::size_t a, std::size_t b, std::size_t* out) {
  if (a != 0 && b > kMaxParams / a) return false;
  *out = a * b;
  return true;
}

// The layer with only the fields its kind uses copied from l: anything else
// set is a mistake in a spec built in code (files reject unknown keys).
LayerSpec relevant_fields(const LayerSpec& l) {
  LayerSpec r;
  r.kind = l.kind;
  switch (l.kind) {
    case LayerKind::dense: r.units = l.units; break;
    case LayerKind::conv1d:
    case LayerKind::conv2d:
      r.filters = l.filters, r.kernel = l.kernel, r.stride = l.stride, r.padding = l.padding;
      break;
    case LayerKind::max_pool1d:
    case LayerKind::max_pool2d:
    case LayerKind::avg_pool1d:
    case LayerKind::avg_pool2d: r.size = l.size, r.stride = l.stride; break;
    case LayerKind::dropout: r.rate = l.rate; break;
    default: break;
  }
  return r;
}

void check_dim(std::size_t i, const LayerSpec& l, const char* field, std::size_t v) {
  if (v == 0 || v > kMaxDim) fail(i, l, fmt::format("{} {} is outside [1, {}]", field, v, kMaxDim));
}

// Output length of a window of `size` at `stride` over n (padded) steps.
std::size_t windows(std::size_t n, std::size_t size, std::size_t stride) { return (n - size) / stride + 1; }

LayerShape infer(std::size_t i, const LayerSpec& l, const std::vector<std::size_t>& in) {
  if (!(relevant_fields(l) == l)) fail(i, l, "sets a field this layer kind does not use");
  const std::size_t rank = in.size();
  LayerShape r;
  switch (l.kind) {
    case LayerKind::dense: {
      if (rank != 1) fail(i, l, fmt::format("input is {}; add a flatten layer before dense", shape_text(in)));
      check_dim(i, l, "units", l.units);
      std::size_t w = 0;
      if (!mul_ok(l.units, in[0], &w)) fail(i, l, "too many parameters");
      r.out = {l.units};
      r.params = w + l.units;
      return r;
    }
    case LayerKind::conv1d:
    case LayerKind::conv2d: {
      const bool two = l.kind == LayerKind::conv2d;
      if (rank != (two ? 3u : 2u)) {
        fail(i, l, fmt::format("input is {}; {} needs {}", shape_text(in), layer_kind_name(l.kind),
                               two ? "[H, W, C]" : "[L, C]"));
      }
      check_dim(i, l, "filters", l.filters);
      check_dim(i, l, "kernel", l.kernel);
      check_dim(i, l, "stride", l.stride);
      if (l.padding > kMaxDim) fail(i, l, fmt::format("padding {} exceeds {}", l.padding, kMaxDim));
      const std::size_t ph = in[0] + 2 * l.padding, pw = two ? in[1] + 2 * l.padding : 0;
      if (l.kernel > ph || (two && l.kernel > pw)) {
        fail(i, l, two ? fmt::format("kernel {} exceeds the padded input {}x{}", l.kernel, ph, pw)
                       : fmt::format("kernel {} exceeds the padded input length {}", l.kernel, ph));
      }
      const std::size_t c = in[rank - 1];
      const std::size_t window = l.kernel * (two ? l.kernel : 1) * c;
      std::size_t w = 0;
      if (!mul_ok(l.filters, window, &w)) fail(i, l, "too many parameters");
      r.params = w + l.filters;
      if (two) {
        r.out = {windows(ph, l.kernel, l.stride), windows(pw, l.kernel, l.stride), l.filters};
      } else {
        r.out = {windows(ph, l.kernel, l.stride), l.filters};
      }
      return r;
    }
    case LayerKind::max_pool1d:
    case LayerKind::max_pool2d:
    case LayerKind::avg_pool1d:
    case LayerKind::avg_pool2d: {
      const bool two = l.kind == LayerKind::max_pool2d || l.kind == LayerKind::avg_pool2d;
      if (rank != (two ? 3u : 2u)) {
        fail(i, l, fmt::format("input is {}; {} needs {}", shape_text(in), layer_kind_name(l.kind),
                               two ? "[H, W, C]" : "[L, C]"));
      }
      check_dim(i, l, "size", l.size);
      check_dim(i, l, "stride", l.stride);  // a file's 0 or absent stride was set to size by the parser
      const std::size_t stride = l.stride;
      if (l.size > in[0] || (two && l.size > in[1])) {
        fail(i, l, two ? fmt::format("size {} exceeds the input {}x{}", l.size, in[0], in[1])
                       : fmt::format("size {} exceeds the input length {}", l.size, in[0]));
      }
      r.out = in;
      r.out[0] = windows(in[0], l.size, stride);
      if (two) r.out[1] = windows(in[1], l.size, stride);
      return r;
    }
    case LayerKind::global_avg_pool:
      if (rank < 2) fail(i, l, fmt::format("input is {}; global_avg_pool needs [L, C] or [H, W, C]", shape_text(in)));
      r.out = {in[rank - 1]};
      return r;
    case LayerKind::flatten: {
      std::size_t n = 1;
      for (std::size_t d : in) n *= d;  // bounded: every shape's size was checked below
      r.out = {n};
      return r;
    }
    case LayerKind::dropout:
      if (!(l.rate >= 0.0 && l.rate < 1.0)) fail(i, l, fmt::format("rate {} is outside [0, 1)", l.rate));
      r.out = in;
      return r;
    case LayerKind::relu:
    case LayerKind::tanh:
    case LayerKind::sigmoid: r.out = in; return r;
  }
  fail(i, l, "unknown layer kind");
}

}  // namespace

const char* layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::dense: return "dense";
    case LayerKind::conv1d: return "conv1d";
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::max_pool1d: return "max_pool1d";
    case LayerKind::max_pool2d: return "max_pool2d";
    case LayerKind::avg_pool1d: return "avg_pool1d";
    case LayerKind::avg_pool2d: return "avg_pool2d";
    case LayerKind::global_avg_pool: return "global_avg_pool";
    case LayerKind::flatten: return "flatten";
    case LayerKind::relu: return "relu";
    case LayerKind::tanh: return "tanh";
    case LayerKind::sigmoid: return "sigmoid";
    case LayerKind::dropout: return "dropout";
  }
  return "?";
}

const char* loss_name(Loss l) {
  switch (l) {
    case Loss::softmax_cross_entropy: return "softmax_cross_entropy";
    case Loss::binary_cross_entropy: return "binary_cross_entropy";
    case Loss::mean_squared_error: return "mean_squared_error";
  }
  return "?";
}

std::vector<LayerShape> layer_shapes(const ModelSpec& spec) {
  if (spec.input.empty() || spec.input.size() > 3) {
    throw std::invalid_argument(fmt::format("input: {} has {} dimensions, expected [F], [L, C] or [H, W, C]",
                                            shape_text(spec.input), spec.input.size()));
  }
  std::size_t in_size = 1;
  for (std::size_t d : spec.input) {
    if (d == 0 || d > kMaxDim || !mul_ok(in_size, d, &in_size)) {
      throw std::invalid_argument(
          fmt::format("input: {} needs every dimension in [1, {}] and at most {} floats", shape_text(spec.input),
                      kMaxDim, kMaxParams));
    }
  }
  if (spec.layers.empty()) throw std::invalid_argument("layers: a model needs at least one layer");
  std::vector<LayerShape> shapes;
  shapes.reserve(spec.layers.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    LayerShape s = infer(i, l, i == 0 ? spec.input : shapes.back().out);
    std::size_t n = 1;
    for (std::size_t d : s.out) {
      if (d > kMaxDim || !mul_ok(n, d, &n)) fail(i, l, fmt::format("output {} is too large", shape_text(s.out)));
    }
    total += s.params;
    if (total > kMaxParams) fail(i, l, fmt::format("the model exceeds {} parameters", kMaxParams));
    shapes.push_back(std::move(s));
  }
  const std::vector<std::size_t>& out = shapes.back().out;
  const std::size_t last = spec.layers.size() - 1;
  if (out.size() != 1) {
    fail(last, spec.layers[last],
         fmt::format("output is {}; the last layer must give [K] logits (add flatten and dense)", shape_text(out)));
  }
  const std::size_t k = out[0];
  if (k > kMaxOutputs) {
    fail(last, spec.layers[last], fmt::format("{} outputs; at most {} (labels are uint8)", k, kMaxOutputs));
  }
  const char* ln = loss_name(spec.loss);
  if (spec.loss == Loss::softmax_cross_entropy && k < 2) {
    throw std::invalid_argument(
        fmt::format("loss {} needs K >= 2 outputs, the last layer gives {} (use binary_cross_entropy)", ln, k));
  }
  if (spec.loss == Loss::binary_cross_entropy && k != 1) {
    throw std::invalid_argument(fmt::format("loss {} needs 1 output (one logit), the last layer gives {}", ln, k));
  }
  return shapes;
}

std::size_t input_size(const ModelSpec& spec) {
  std::size_t n = 1;
  for (std::size_t d : spec.input) n *= d;
  return n;
}

std::size_t num_outputs(const ModelSpec& spec) { return layer_shapes(spec).back().out[0]; }

std::size_t num_classes(const ModelSpec& spec) {
  const std::size_t k = num_outputs(spec);
  if (spec.loss == Loss::binary_cross_entropy) return 2;
  if (spec.loss == Loss::mean_squared_error && k == 1) return 256;
  return k;
}

std::size_t num_params(const ModelSpec& spec) {
  std::size_t n = 0;
  for (const LayerShape& s : layer_shapes(spec)) n += s.params;
  return n;
}

bool is_preset_name(std::string_view name) {
  return name == "mlp" || name == "cnn" || name.starts_with("mlp:") || name.starts_with("cnn:");
}

namespace {

std::vector<std::size_t> mlp_sizes(std::string_view spec) {
  if (spec == "mlp") return {784, 128, 10};
  std::vector<std::size_t> sizes;
  std::string_view rest = spec.substr(4);  // after "mlp:"
  while (true) {
    const std::size_t dash = rest.find('-');
    const std::string_view tok = rest.substr(0, dash);
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (tok.empty() || ec != std::errc() || end != tok.data() + tok.size()) {
      throw std::invalid_argument(fmt::format(
          "bad model spec '{}': '{}' is not a layer size (expected mlp:A-B-...-Z, e.g. mlp:784-128-10)", spec, tok));
    }
    sizes.push_back(v);
    if (dash == std::string_view::npos) break;
    rest = rest.substr(dash + 1);
  }
  if (sizes.size() < 2) {
    throw std::invalid_argument(
        fmt::format("bad model spec '{}': an mlp needs at least an input and an output size", spec));
  }
  return sizes;
}

ModelSpec lenet5() {
  auto conv = [](std::size_t filters, std::size_t padding) {
    LayerSpec l{.kind = LayerKind::conv2d, .filters = filters, .kernel = 5, .padding = padding};
    return l;
  };
  auto dense = [](std::size_t units) { return LayerSpec{.kind = LayerKind::dense, .units = units}; };
  const LayerSpec relu{.kind = LayerKind::relu};
  const LayerSpec pool{.kind = LayerKind::max_pool2d, .stride = 2, .size = 2};
  ModelSpec s;
  s.input = {28, 28, 1};
  s.layers = {conv(6, 2), relu, pool, conv(16, 0), relu, pool, LayerSpec{.kind = LayerKind::flatten},
              dense(120), relu, dense(84), relu, dense(10)};
  return s;
}

}  // namespace

ModelSpec preset_spec(std::string_view name) {
  if (name == "cnn" || name == "cnn:lenet5") return lenet5();
  if (name == "mlp" || name.starts_with("mlp:")) {
    const std::vector<std::size_t> sizes = mlp_sizes(name);
    ModelSpec s;
    s.input = {sizes.front()};
    for (std::size_t i = 1; i < sizes.size(); ++i) {
      s.layers.push_back(LayerSpec{.kind = LayerKind::dense, .units = sizes[i]});
      if (i + 1 < sizes.size()) s.layers.push_back(LayerSpec{.kind = LayerKind::relu});
    }
    try {
      layer_shapes(s);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("bad model spec '{}': {}", name, e.what()));
    }
    return s;
  }
  throw std::invalid_argument(fmt::format(
      "unknown model '{}': expected mlp, mlp:A-B-...-Z (e.g. mlp:784-128-10), cnn, cnn:lenet5 or a model file", name));
}

std::string canonical_preset_name(std::string_view name) {
  if (name == "cnn" || name == "cnn:lenet5") return "cnn:lenet5";
  return fmt::format("mlp:{}", fmt::join(mlp_sizes(name), "-"));
}

}  // namespace signfed::model
