// The JSON form of a ModelSpec (spec.h, docs/model-format.md): strict
// parsing (unknown keys are mistakes, not extensions) and the canonical text.
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/model/spec.h"

namespace signfed::model {
namespace {

using nlohmann::json;

constexpr LayerKind kKinds[] = {
    LayerKind::dense,      LayerKind::conv1d,     LayerKind::conv2d,          LayerKind::max_pool1d,
    LayerKind::max_pool2d, LayerKind::avg_pool1d, LayerKind::avg_pool2d,      LayerKind::global_avg_pool,
    LayerKind::flatten,    LayerKind::relu,       LayerKind::tanh,            LayerKind::sigmoid,
    LayerKind::dropout};
constexpr Loss kLosses[] = {Loss::softmax_cross_entropy, Loss::binary_cross_entropy, Loss::mean_squared_error};

// Keys each layer kind accepts besides "type"; the first `required` are required.
struct Fields {
  std::vector<const char*> keys;
  std::size_t required;
};

Fields fields_of(LayerKind k) {
  switch (k) {
    case LayerKind::dense: return {{"units"}, 1};
    case LayerKind::conv1d:
    case LayerKind::conv2d: return {{"filters", "kernel", "stride", "padding"}, 2};
    case LayerKind::max_pool1d:
    case LayerKind::max_pool2d:
    case LayerKind::avg_pool1d:
    case LayerKind::avg_pool2d: return {{"size", "stride"}, 1};
    case LayerKind::dropout: return {{"rate"}, 1};
    default: return {{}, 0};
  }
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument(where + ": " + what);
}

// A non-negative integer field (JSON integer literal, no fraction or sign).
std::size_t uint_field(const std::string& where, const json& v, const char* key) {
  if (!v.is_number_unsigned()) fail(where, fmt::format("'{}' must be a non-negative integer, got {}", key, v.dump()));
  return v.get<std::size_t>();
}

LayerSpec parse_layer(const std::string& where0, const json& j) {
  if (!j.is_object()) fail(where0, "a layer must be an object with a \"type\"");
  const auto t = j.find("type");
  if (t == j.end() || !t->is_string()) fail(where0, "missing \"type\"");
  const std::string type = t->get<std::string>();
  LayerSpec l;
  bool known = false;
  for (LayerKind k : kKinds) {
    if (type == layer_kind_name(k)) l.kind = k, known = true;
  }
  if (!known) fail(where0, fmt::format("unknown layer type \"{}\"", type));
  const std::string where = fmt::format("{} ({})", where0, type);
  const Fields f = fields_of(l.kind);
  for (const auto& [key, value] : j.items()) {
    if (key == "type") continue;
    bool ok = false;
    for (const char* k : f.keys) ok |= key == k;
    if (!ok) fail(where, fmt::format("unknown key \"{}\"", key));
  }
  for (std::size_t i = 0; i < f.required; ++i) {
    if (!j.contains(f.keys[i])) fail(where, fmt::format("missing \"{}\"", f.keys[i]));
  }
  auto get = [&](const char* key, std::size_t fallback, bool zero_ok) {
    const auto it = j.find(key);
    if (it == j.end()) return fallback;
    const std::size_t v = uint_field(where, *it, key);
    if (v == 0 && !zero_ok) fail(where, fmt::format("'{}' must be >= 1", key));
    return v;
  };
  switch (l.kind) {
    case LayerKind::dense: l.units = get("units", 0, false); break;
    case LayerKind::conv1d:
    case LayerKind::conv2d:
      l.filters = get("filters", 0, false);
      l.kernel = get("kernel", 0, false);
      l.stride = get("stride", 1, false);
      l.padding = get("padding", 0, true);
      break;
    case LayerKind::max_pool1d:
    case LayerKind::max_pool2d:
    case LayerKind::avg_pool1d:
    case LayerKind::avg_pool2d:
      l.size = get("size", 0, false);
      l.stride = get("stride", 0, true);  // 0 or absent: the window size
      if (l.stride == 0) l.stride = l.size;
      break;
    case LayerKind::dropout: {
      const json& r = j.at("rate");
      if (!r.is_number()) fail(where, fmt::format("'rate' must be a number, got {}", r.dump()));
      l.rate = r.get<double>();
      if (!(l.rate >= 0.0 && l.rate < 1.0)) fail(where, fmt::format("rate {} is outside [0, 1)", l.rate));
      break;
    }
    default: break;
  }
  return l;
}

}  // namespace

ModelSpec parse_model_json(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(fmt::format("not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) fail("model", "the file must hold one JSON object {\"input\", \"layers\", \"loss\"}");
  for (const auto& [key, value] : j.items()) {
    if (key != "input" && key != "layers" && key != "loss") fail("model", fmt::format("unknown key \"{}\"", key));
  }
  for (const char* key : {"input", "layers", "loss"}) {
    if (!j.contains(key)) fail("model", fmt::format("missing \"{}\"", key));
  }
  ModelSpec s;
  const json& in = j["input"];
  if (!in.is_array()) fail("input", "must be an array of 1 to 3 sizes, e.g. [28, 28, 1]");
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::size_t d = uint_field("input", in[i], fmt::format("input[{}]", i).c_str());
    if (d == 0) fail("input", fmt::format("input[{}] must be >= 1", i));
    s.input.push_back(d);
  }
  const json& layers = j["layers"];
  if (!layers.is_array()) fail("layers", "must be an array of layer objects");
  for (std::size_t i = 0; i < layers.size(); ++i) s.layers.push_back(parse_layer(fmt::format("layers[{}]", i), layers[i]));
  const json& loss = j["loss"];
  bool known = false;
  for (Loss l : kLosses) {
    if (loss.is_string() && loss.get<std::string>() == loss_name(l)) s.loss = l, known = true;
  }
  if (!known) {
    fail("loss", fmt::format("unknown loss {}; expected softmax_cross_entropy, binary_cross_entropy or "
                             "mean_squared_error",
                             loss.dump()));
  }
  layer_shapes(s);  // throws naming the layer
  return s;
}

std::string canonical_json(const ModelSpec& spec) {
  layer_shapes(spec);
  // Written by hand (not json::dump) for a fixed key order: "type" first, then
  // the fields in the order docs/model-format.md lists them.
  std::string out = fmt::format("{{\"input\":[{}],\"layers\":[", fmt::join(spec.input, ","));
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    if (i != 0) out += ',';
    out += fmt::format("{{\"type\":\"{}\"", layer_kind_name(l.kind));
    switch (l.kind) {
      case LayerKind::dense: out += fmt::format(",\"units\":{}", l.units); break;
      case LayerKind::conv1d:
      case LayerKind::conv2d:
        out += fmt::format(",\"filters\":{},\"kernel\":{},\"stride\":{},\"padding\":{}", l.filters, l.kernel,
                           l.stride, l.padding);
        break;
      case LayerKind::max_pool1d:
      case LayerKind::max_pool2d:
      case LayerKind::avg_pool1d:
      case LayerKind::avg_pool2d:
        out += fmt::format(",\"size\":{},\"stride\":{}", l.size, l.stride);
        break;
      case LayerKind::dropout: out += fmt::format(",\"rate\":{}", l.rate); break;  // shortest round-trip text
      default: break;
    }
    out += '}';
  }
  out += fmt::format("],\"loss\":\"{}\"}}", loss_name(spec.loss));
  return out;
}

}  // namespace signfed::model
