// load_model_argument (model.h): a --model argument to spec text.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/model/model.h"
#include "core/model/spec.h"

namespace signfed::model {

std::string load_model_argument(std::string_view arg) {
  if (is_preset_name(arg)) return std::string(arg);
  // A model as JSON text (what runs.config stores and Welcome carries, passed on by signfed-sim --processes).
  if (arg.starts_with('{')) return canonical_json(parse_model_json(arg));
  const std::string path(arg);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(fmt::format("model file '{}': cannot open ({}); expected a preset (mlp, "
                                            "mlp:A-B-...-Z, cnn, cnn:lenet5) or a model file",
                                            path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::invalid_argument(fmt::format("model file '{}': read error", path));
  try {
    return canonical_json(parse_model_json(text.str()));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("model file '{}': {}", path, e.what()));
  }
}

}  // namespace signfed::model
