// spec.h: shape inference, the JSON form (strict parsing, canonical text),
// presets and the files in docs/models, load_model_argument.
#include "core/model/spec.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/model/model.h"

namespace signfed::model {
namespace {

const std::string kModels = std::string(SIGNFED_SOURCE_DIR) + "/docs/models/";

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The message of the std::invalid_argument that parse_model_json throws ("" if none).
std::string parse_error(const std::string& json) {
  try {
    parse_model_json(json);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("spec: shape inference of LeNet-5 and parameter counts") {
  const ModelSpec s = preset_spec("cnn");
  const auto shapes = layer_shapes(s);
  REQUIRE(shapes.size() == 12);
  CHECK(shapes[0].out == std::vector<std::size_t>{28, 28, 6});
  CHECK(shapes[0].params == 6 * 25 + 6);
  CHECK(shapes[2].out == std::vector<std::size_t>{14, 14, 6});
  CHECK(shapes[3].out == std::vector<std::size_t>{10, 10, 16});
  CHECK(shapes[5].out == std::vector<std::size_t>{5, 5, 16});
  CHECK(shapes[6].out == std::vector<std::size_t>{400});
  CHECK(shapes[11].out == std::vector<std::size_t>{10});
  CHECK(num_params(s) == 61706);
  CHECK(input_size(s) == 784);
  CHECK(num_outputs(s) == 10);
  CHECK(num_classes(s) == 10);
  CHECK(num_params(preset_spec("mlp")) == 101770);
}

TEST_CASE("spec: conv1d, strides, padding, pools and global_avg_pool shapes") {
  const ModelSpec s = parse_model_json(read(kModels + "conv1d_signal.json"));
  const auto shapes = layer_shapes(s);
  CHECK(shapes[0].out == std::vector<std::size_t>{128, 16});  // (128 + 6 - 7) / 1 + 1
  CHECK(shapes[0].params == 16 * 7 * 3 + 16);
  CHECK(shapes[2].out == std::vector<std::size_t>{64, 16});
  CHECK(shapes[3].out == std::vector<std::size_t>{30, 32});  // (64 - 5) / 2 + 1
  CHECK(shapes[5].out == std::vector<std::size_t>{32});
  CHECK(num_classes(s) == 6);
}

TEST_CASE("spec: num_classes per loss") {
  CHECK(num_classes(parse_model_json(read(kModels + "tabular_mlp.json"))) == 2);  // binary: one logit
  ModelSpec s = preset_spec("mlp:4-3");
  s.loss = Loss::mean_squared_error;
  CHECK(num_classes(s) == 3);
  s.layers.back().units = 1;
  CHECK(num_classes(s) == 256);  // regression target: any uint8 label
}

TEST_CASE("spec: docs/models hold the presets, and every file round-trips through canonical_json") {
  CHECK(parse_model_json(read(kModels + "mlp.json")) == preset_spec("mlp"));
  CHECK(parse_model_json(read(kModels + "cnn.json")) == preset_spec("cnn"));
  for (const char* f : {"mlp.json", "cnn.json", "conv1d_signal.json", "tabular_mlp.json"}) {
    INFO(f);
    const ModelSpec s = parse_model_json(read(kModels + f));
    const std::string c = canonical_json(s);
    CHECK(parse_model_json(c) == s);
    CHECK(canonical_json(parse_model_json(c)) == c);  // stable
  }
}

TEST_CASE("spec: canonical_json is compact, ordered and fills in the defaults") {
  CHECK(canonical_json(preset_spec("mlp:4-3-2")) ==
        R"({"input":[4],"layers":[{"type":"dense","units":3},{"type":"relu"},{"type":"dense","units":2}],)"
        R"("loss":"softmax_cross_entropy"})");
  const ModelSpec s = parse_model_json(
      R"({"loss":"mean_squared_error","layers":[{"kernel":3,"type":"conv1d","filters":2},{"type":"avg_pool1d","size":2},)"
      R"({"type":"dropout","rate":0.1},{"type":"flatten"},{"type":"dense","units":1}],"input":[9,2]})");
  CHECK(canonical_json(s) ==
        R"({"input":[9,2],"layers":[{"type":"conv1d","filters":2,"kernel":3,"stride":1,"padding":0},)"
        R"({"type":"avg_pool1d","size":2,"stride":2},{"type":"dropout","rate":0.1},{"type":"flatten"},)"
        R"({"type":"dense","units":1}],"loss":"mean_squared_error"})");
  CHECK(parse_model_json(canonical_json(s)) == s);
}

TEST_CASE("spec: bad model files throw std::invalid_argument naming the place") {
  struct Case {
    const char* json;
    const char* expect;  // a substring of the message
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[1, 2]", "model: the file must hold one JSON object"},
      {R"({"input":[4],"layers":[{"type":"dense","units":2}]})", "model: missing \"loss\""},
      {R"({"input":[4],"layers":[{"type":"dense","units":2}],"loss":"softmax_cross_entropy","lr":1})",
       "model: unknown key \"lr\""},
      {R"({"input":[4,0],"layers":[],"loss":"softmax_cross_entropy"})", "input: input[1] must be >= 1"},
      {R"({"input":[4],"layers":[{"type":"dense","units":2},{"type":"softmax"}],"loss":"softmax_cross_entropy"})",
       "layers[1]: unknown layer type \"softmax\""},
      {R"({"input":[4],"layers":[{"type":"dense","units":0}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dense): 'units' must be >= 1"},
      {R"({"input":[4],"layers":[{"type":"dense"}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dense): missing \"units\""},
      {R"({"input":[4],"layers":[{"type":"dense","units":2.5}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dense): 'units' must be a non-negative integer, got 2.5"},
      {R"({"input":[4],"layers":[{"type":"dense","units":2,"kernel":3}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dense): unknown key \"kernel\""},
      {R"({"input":[6,6,1],"layers":[{"type":"relu"},{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})",
       "layers[1] (dense): input is [6, 6, 1]; add a flatten layer"},
      {R"({"input":[6,6,1],"layers":[{"type":"relu"},{"type":"max_pool2d","size":1},{"type":"relu"},)"
       R"({"type":"conv2d","filters":2,"kernel":7}],"loss":"softmax_cross_entropy"})",
       "layers[3] (conv2d): kernel 7 exceeds the padded input 6x6"},
      {R"({"input":[5,2],"layers":[{"type":"conv1d","filters":2,"kernel":8,"padding":1}],"loss":"softmax_cross_entropy"})",
       "layers[0] (conv1d): kernel 8 exceeds the padded input length 7"},
      {R"({"input":[8],"layers":[{"type":"conv1d","filters":2,"kernel":3}],"loss":"softmax_cross_entropy"})",
       "layers[0] (conv1d): input is [8]; conv1d needs [L, C]"},
      {R"({"input":[4,4,1],"layers":[{"type":"max_pool2d","size":5}],"loss":"softmax_cross_entropy"})",
       "layers[0] (max_pool2d): size 5 exceeds the input 4x4"},
      {R"({"input":[4,4,1],"layers":[{"type":"conv2d","filters":3,"kernel":2}],"loss":"softmax_cross_entropy"})",
       "layers[0] (conv2d): output is [3, 3, 3]; the last layer must give [K] logits"},
      {R"({"input":[4],"layers":[{"type":"dropout","rate":1.0},{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dropout): rate 1 is outside [0, 1)"},
      {R"({"input":[4],"layers":[{"type":"dense","units":2}],"loss":"binary_cross_entropy"})",
       "loss binary_cross_entropy needs 1 output"},
      {R"({"input":[4],"layers":[{"type":"dense","units":1}],"loss":"softmax_cross_entropy"})",
       "loss softmax_cross_entropy needs K >= 2 outputs"},
      {R"({"input":[4],"layers":[{"type":"dense","units":300}],"loss":"softmax_cross_entropy"})",
       "layers[0] (dense): 300 outputs; at most 256"},
      {R"({"input":[4],"layers":[{"type":"dense","units":2}],"loss":"hinge"})", "loss: unknown loss \"hinge\""},
      {R"({"input":[4],"layers":[],"loss":"softmax_cross_entropy"})", "layers: a model needs at least one layer"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    const std::string msg = parse_error(c.json);
    INFO("message: ", msg);
    CHECK(msg.find(c.expect) != std::string::npos);
  }
}

TEST_CASE("spec: specs built in code are validated like files") {
  ModelSpec s = preset_spec("mlp:4-3");
  s.layers[0].kernel = 3;  // not a dense field
  CHECK_THROWS_WITH_AS(layer_shapes(s), "layers[0] (dense): sets a field this layer kind does not use",
                       std::invalid_argument);
  s = parse_model_json(R"({"input":[4,2],"layers":[{"type":"max_pool1d","size":2},{"type":"flatten"},)"
                       R"({"type":"dense","units":2}],"loss":"softmax_cross_entropy"})");
  CHECK(s.layers[0].stride == 2);  // the parser fills the default in
  s.layers[0].stride = 0;
  CHECK_THROWS_WITH_AS(layer_shapes(s), "layers[0] (max_pool1d): stride 0 is outside [1, 16777216]",
                       std::invalid_argument);
  s.input = {};
  CHECK_THROWS_AS(layer_shapes(s), std::invalid_argument);
}

TEST_CASE("spec: presets and their names") {
  CHECK(is_preset_name("mlp"));
  CHECK(is_preset_name("cnn:resnet"));  // a preset name preset_spec then rejects
  CHECK_FALSE(is_preset_name("model.json"));
  CHECK(canonical_preset_name("mlp") == "mlp:784-128-10");
  CHECK(canonical_preset_name("cnn") == "cnn:lenet5");
  const ModelSpec m = preset_spec("mlp:20-7-5");
  REQUIRE(m.layers.size() == 3);
  CHECK(m.layers[1].kind == LayerKind::relu);
  CHECK_THROWS_AS(preset_spec("cnn:resnet"), std::invalid_argument);
}

TEST_CASE("load_model_argument: presets pass through, files come back canonical, bad files name the path") {
  CHECK(load_model_argument("mlp") == "mlp");
  CHECK(load_model_argument("cnn:lenet5") == "cnn:lenet5");
  const std::string cnn = load_model_argument(kModels + "cnn.json");
  CHECK(cnn == canonical_json(preset_spec("cnn")));
  // A file model: spec() is the canonical JSON; the init follows spec.h's rule,
  // so the same architecture as a preset starts from the same parameters.
  const auto from_file = make_model(cnn, 9);
  const auto preset = make_model("cnn", 9);
  CHECK(from_file->spec() == cnn);
  CHECK(preset->spec() == "cnn:lenet5");
  CHECK(from_file->architecture() == preset->architecture());
  CHECK(std::equal(from_file->params().begin(), from_file->params().end(), preset->params().begin(),
                   preset->params().end()));

  auto message = [](const std::string& arg) -> std::string {
    try {
      load_model_argument(arg);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  const std::string missing = "/nonexistent/model.json";
  CHECK(message(missing).find("model file '/nonexistent/model.json': cannot open") != std::string::npos);
  const std::string bad = (std::filesystem::temp_directory_path() / "signfed_model_test_bad.json").string();
  {
    std::ofstream(bad) << R"({"input":[4],"layers":[{"type":"dense","units":2,"size":1}],"loss":"softmax_cross_entropy"})";
  }
  const std::string msg = message(bad);
  CHECK(msg.find("model file '" + bad + "': layers[0] (dense): unknown key \"size\"") != std::string::npos);
  std::remove(bad.c_str());
}

TEST_CASE("make_model: JSON text builds a file model, bad JSON throws naming the place") {
  const auto m = make_model(R"({"input":[3],"layers":[{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})", 1);
  CHECK(m->spec() == R"({"input":[3],"layers":[{"type":"dense","units":2}],"loss":"softmax_cross_entropy"})");
  CHECK(m->num_params() == 8);
  try {
    make_model(R"({"input":[3],"layers":[{"type":"dense","units":2}]})", 1);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "bad model file: model: missing \"loss\"");
  }
}

}  // namespace
}  // namespace signfed::model
