#include <memory>
#include <stdexcept>
#include <string>

#include "model/cnn.h"
#include "model/mlp.h"
#include "model/model.h"

namespace signfed::model {

std::unique_ptr<Model> make_model(std::string_view spec, std::uint64_t seed) {
  if (spec == "mlp" || spec.starts_with("mlp:")) {
    std::vector<std::size_t> sizes = Mlp::parse_spec(spec);  // its errors name the spec
    try {
      return std::make_unique<Mlp>(std::move(sizes), seed);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("bad model spec '" + std::string(spec) + "': " + e.what());
    }
  }
  if (spec == "cnn" || spec == "cnn:lenet5") return std::make_unique<Cnn>(seed);
  throw std::invalid_argument("unknown model '" + std::string(spec) +
                              "': expected mlp, mlp:A-B-...-Z (e.g. mlp:784-128-10), cnn or cnn:lenet5");
}

}  // namespace signfed::model
