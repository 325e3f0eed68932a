// make_model: presets and model files both run on LayeredModel.
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/model/layered_model.h"
#include "core/model/model.h"
#include "core/model/spec.h"

namespace signfed::model {

const char* init_name(Init i) { return i == Init::torch ? "torch" : "he"; }

bool parse_init(std::string_view name, Init* out) {
  if (name == "he") *out = Init::he;
  else if (name == "torch") *out = Init::torch;
  else return false;
  return true;
}

std::unique_ptr<Model> make_model(std::string_view spec, std::uint64_t seed, Init init) {
  if (spec.starts_with('{')) {
    ModelSpec s;
    try {
      s = parse_model_json(spec);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("bad model file: {}", e.what()));
    }
    std::string name = canonical_json(s);
    return std::make_unique<LayeredModel>(std::move(s), seed, init, std::move(name));
  }
  ModelSpec s = preset_spec(spec);  // its errors name the spec
  // loss_and_grad's messages start with the family name, as before the generic engine.
  const char* prefix = spec.starts_with("cnn") ? "cnn" : "mlp";
  return std::make_unique<LayeredModel>(std::move(s), seed, init, canonical_preset_name(spec), prefix);
}

}  // namespace signfed::model
