#include "tools/export/preset_spec.h"

#include <stdexcept>
#include <string>

#include "core/model/mlp.h"

namespace signfed::exporter {

using model::LayerKind;
using model::LayerSpec;
using model::ModelSpec;

model::ModelSpec preset_spec(std::string_view name) {
  if (name == "mlp" || name.starts_with("mlp:")) {
    const std::vector<std::size_t> sizes = model::Mlp::parse_spec(name);  // its errors name the spec
    ModelSpec s;
    s.input = {sizes.front()};
    for (std::size_t l = 1; l < sizes.size(); ++l) {
      s.layers.push_back({.kind = LayerKind::dense, .units = sizes[l]});
      if (l + 1 < sizes.size()) s.layers.push_back({.kind = LayerKind::relu});
    }
    return s;
  }
  if (name == "cnn" || name == "cnn:lenet5") {
    ModelSpec s;
    s.input = {28, 28, 1};
    s.layers = {
        {.kind = LayerKind::conv2d, .filters = 6, .kernel = 5, .padding = 2},
        {.kind = LayerKind::relu},
        {.kind = LayerKind::max_pool2d, .stride = 2, .size = 2},
        {.kind = LayerKind::conv2d, .filters = 16, .kernel = 5},
        {.kind = LayerKind::relu},
        {.kind = LayerKind::max_pool2d, .stride = 2, .size = 2},
        {.kind = LayerKind::flatten},
        {.kind = LayerKind::dense, .units = 120},
        {.kind = LayerKind::relu},
        {.kind = LayerKind::dense, .units = 84},
        {.kind = LayerKind::relu},
        {.kind = LayerKind::dense, .units = 10},
    };
    return s;
  }
  throw std::invalid_argument("model '" + std::string(name) +
                              "' has no architecture this signfed-export knows: expected mlp, mlp:A-B-...-Z or cnn");
}

}  // namespace signfed::exporter
