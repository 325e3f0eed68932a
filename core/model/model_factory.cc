#include <memory>
#include <stdexcept>
#include <string>

#include "core/model/cnn.h"
#include "core/model/mlp.h"
#include "core/model/model.h"

namespace signfed::model {

const char* init_name(Init i) { return i == Init::torch ? "torch" : "he"; }

bool parse_init(std::string_view name, Init* out) {
  if (name == "he") *out = Init::he;
  else if (name == "torch") *out = Init::torch;
  else return false;
  return true;
}

std::unique_ptr<Model> make_model(std::string_view spec, std::uint64_t seed, Init init) {
  if (spec == "mlp" || spec.starts_with("mlp:")) {
    std::vector<std::size_t> sizes = Mlp::parse_spec(spec);  // its errors name the spec
    try {
      return std::make_unique<Mlp>(std::move(sizes), seed, init);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("bad model spec '" + std::string(spec) + "': " + e.what());
    }
  }
  if (spec == "cnn" || spec == "cnn:lenet5") return std::make_unique<Cnn>(seed, init);
  throw std::invalid_argument("unknown model '" + std::string(spec) +
                              "': expected mlp, mlp:A-B-...-Z (e.g. mlp:784-128-10), cnn or cnn:lenet5");
}

}  // namespace signfed::model
