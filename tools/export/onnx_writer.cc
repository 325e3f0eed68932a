// The ONNX graph of a signfed model (docs/export.md, "ONNX graph"):
//   input  float [N, input_size]   flat rows, as signfed feeds them
//   Sub(mean), Div(std)            the run's standardisation, when it had one
//   per layer, with the data kept in one of three layouts:
//     flat           [N, F]
//     channels-last  [N, H, W, C]  signfed's own order (1-d: [N, 1, L, C])
//     channels-first [N, C, H, W]  what ONNX Conv and the pools take
//   a Reshape to channels-last and a Transpose to channels-first before the
//   first conv/pool; a Transpose back to channels-last before a flatten, so
//   the flattened order is signfed's (y, x, c); dense as Gemm(transB=1);
//   1-d layers as 2-d ones with H = 1 (OpenCV 4.6's dnn runs those);
//   dropout omitted (the identity at inference)
//   output float [N, K] "logits"
// Opset 13, IR version 7 (OpenCV 4.6, onnxruntime and onnx 1.12 read them).
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <fmt/core.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <span>
#include <string_view>

#include "tools/export/export_model.h"

namespace signfed::exporter {
namespace {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian");

using model::LayerKind;
using I64s = std::vector<std::int64_t>;

constexpr int kOpset = 13;
constexpr int kIrVersion = 7;

enum class Layout { flat, channels_last, channels_first };

class Graph {
 public:
  explicit Graph(onnx::GraphProto* g) : g_(g) {}

  std::string fresh(std::string_view base) { return fmt::format("{}_{}", base, next_++); }

  void floats(const std::string& name, const I64s& dims, std::span<const float> v) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    t->set_raw_data(v.data(), v.size_bytes());
  }
  void ints(const std::string& name, const I64s& v) {
    onnx::TensorProto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(v.size()));
    for (std::int64_t x : v) t->add_int64_data(x);
  }

  struct Attr {
    const char* name;
    I64s values;
    bool list = true;  // INTS; false: one INT
  };
  // Adds op(inputs) -> a fresh output; returns the output's name.
  std::string node(const char* op, std::initializer_list<std::string> inputs, std::initializer_list<Attr> attrs = {}) {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(fresh(op));
    for (const std::string& in : inputs) n->add_input(in);
    const std::string out = n->name() + "_out";
    n->add_output(out);
    for (const Attr& a : attrs) {
      onnx::AttributeProto* p = n->add_attribute();
      p->set_name(a.name);
      if (a.list) {
        p->set_type(onnx::AttributeProto::INTS);
        for (std::int64_t v : a.values) p->add_ints(v);
      } else {
        p->set_type(onnx::AttributeProto::INT);
        p->set_i(a.values.at(0));
      }
    }
    return out;
  }

  onnx::GraphProto* proto() { return g_; }

 private:
  onnx::GraphProto* g_;
  int next_ = 0;
};

void value_info(onnx::ValueInfoProto* v, const std::string& name, std::size_t features) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("N");
  t->mutable_shape()->add_dim()->set_dim_value(static_cast<std::int64_t>(features));
}

std::int64_t i64(std::size_t v) { return static_cast<std::int64_t>(v); }

// Conv weights from signfed's [F][ky][kx][C] (1-d: [F][k][C], ky = 0, kernel_h = 1)
// to ONNX's [F][C][ky][kx].
std::vector<float> conv_weights_fckk(std::span<const float> w, std::size_t filters, std::size_t kh, std::size_t kw,
                                     std::size_t channels) {
  std::vector<float> out(w.size());
  for (std::size_t f = 0; f < filters; ++f)
    for (std::size_t ky = 0; ky < kh; ++ky)
      for (std::size_t kx = 0; kx < kw; ++kx)
        for (std::size_t c = 0; c < channels; ++c)
          out[((f * channels + c) * kh + ky) * kw + kx] = w[((f * kh + ky) * kw + kx) * channels + c];
  return out;
}

// Builds the graph; the data's current tensor and layout are carried through the layers.
class Builder {
 public:
  Builder(const ExportModel& m, onnx::GraphProto* g) : m_(m), g_(g) {}

  void build() {
    value_info(g_.proto()->add_input(), "input", m_.plan.input_size());
    cur_ = "input";
    if (m_.input.enabled()) standardise();
    for (const LayerStep& s : m_.plan.steps) layer(s);
    // The last node's output becomes "logits" (an Identity if no node was emitted).
    onnx::GraphProto* g = g_.proto();
    if (g->node_size() == 0 || cur_ != g->node(g->node_size() - 1).output(0)) cur_ = g_.node("Identity", {cur_});
    g->mutable_node(g->node_size() - 1)->set_output(0, "logits");
    value_info(g->add_output(), "logits", m_.plan.outputs());
  }

 private:
  void standardise() {
    // Shape [1] broadcasts one value over every feature; [input_size] is per feature (--input-stats federated).
    const std::string mean = "input_mean", sd = "input_std";
    g_.floats(mean, {i64(m_.input.mean.size())}, m_.input.mean);
    g_.floats(sd, {i64(m_.input.std.size())}, m_.input.std);
    cur_ = g_.node("Div", {g_.node("Sub", {cur_, mean}), sd});
  }

  // [H, W, C] for a 2-d shape, [1, L, C] for a 1-d one.
  static I64s hwc(const std::vector<std::size_t>& s) {
    if (s.size() == 2) return {1, i64(s[0]), i64(s[1])};
    return {i64(s[0]), i64(s[1]), i64(s[2])};
  }

  void to_channels_first(const std::vector<std::size_t>& shape) {
    if (layout_ == Layout::channels_first) return;
    if (layout_ == Layout::flat) {
      const I64s d = hwc(shape);
      const std::string target = g_.fresh("shape");
      g_.ints(target, {-1, d[0], d[1], d[2]});
      cur_ = g_.node("Reshape", {cur_, target});
    }
    cur_ = g_.node("Transpose", {cur_}, {{"perm", {0, 3, 1, 2}}});
    layout_ = Layout::channels_first;
  }

  void to_flat() {
    if (layout_ == Layout::flat) return;
    if (layout_ == Layout::channels_first) cur_ = g_.node("Transpose", {cur_}, {{"perm", {0, 2, 3, 1}}});
    cur_ = g_.node("Flatten", {cur_}, {{"axis", {1}, false}});
    layout_ = Layout::flat;
  }

  std::span<const float> tensor(const ParamTensor& t) const {
    return std::span<const float>(m_.params).subspan(t.offset, t.size());
  }

  void layer(const LayerStep& s) {
    const model::LayerSpec& l = s.spec;
    const bool one_d = s.in.size() == 2;
    switch (l.kind) {
      case LayerKind::dense: {
        to_flat();
        const ParamTensor &w = s.params[0], &b = s.params[1];
        g_.floats(w.name, {i64(w.shape[0]), i64(w.shape[1])}, tensor(w));
        g_.floats(b.name, {i64(b.shape[0])}, tensor(b));
        cur_ = g_.node("Gemm", {cur_, w.name, b.name}, {{"transB", {1}, false}});
        break;
      }
      case LayerKind::conv1d:
      case LayerKind::conv2d: {
        to_channels_first(s.in);
        const ParamTensor &w = s.params[0], &b = s.params[1];
        const std::size_t kh = one_d ? 1 : l.kernel, c = s.in.back();
        g_.floats(w.name, {i64(l.filters), i64(c), i64(kh), i64(l.kernel)},
                  conv_weights_fckk(tensor(w), l.filters, kh, l.kernel, c));
        g_.floats(b.name, {i64(l.filters)}, tensor(b));
        const std::int64_t p = i64(l.padding), st = i64(l.stride), ph = one_d ? 0 : p;
        cur_ = g_.node("Conv", {cur_, w.name, b.name},
                       {{"kernel_shape", {i64(kh), i64(l.kernel)}},
                        {"pads", {ph, p, ph, p}},
                        {"strides", {one_d ? 1 : st, st}}});
        break;
      }
      case LayerKind::max_pool1d:
      case LayerKind::max_pool2d:
      case LayerKind::avg_pool1d:
      case LayerKind::avg_pool2d: {
        to_channels_first(s.in);
        const bool max = l.kind == LayerKind::max_pool1d || l.kind == LayerKind::max_pool2d;
        const std::int64_t k = i64(l.size), st = i64(l.stride);
        cur_ = g_.node(max ? "MaxPool" : "AveragePool", {cur_},
                       {{"kernel_shape", {one_d ? 1 : k, k}}, {"strides", {one_d ? 1 : st, st}}});
        break;
      }
      case LayerKind::global_avg_pool:
        to_channels_first(s.in);
        cur_ = g_.node("GlobalAveragePool", {cur_});  // [N, C, 1, 1]
        cur_ = g_.node("Flatten", {cur_}, {{"axis", {1}, false}});
        layout_ = Layout::flat;
        break;
      case LayerKind::flatten: to_flat(); break;
      case LayerKind::relu: cur_ = g_.node("Relu", {cur_}); break;
      case LayerKind::tanh: cur_ = g_.node("Tanh", {cur_}); break;
      case LayerKind::sigmoid: cur_ = g_.node("Sigmoid", {cur_}); break;
      case LayerKind::dropout: break;  // the identity at inference
    }
  }

  const ExportModel& m_;
  Graph g_;
  std::string cur_;
  Layout layout_ = Layout::flat;
};

}  // namespace

void write_onnx(const ExportModel& m, const std::string& path) {
  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("signfed-export");
  proto.set_producer_version(SIGNFED_VERSION);
  proto.set_doc_string("signfed model; inputs are flat rows [N, input_size], outputs logits [N, K] (docs/export.md)");
  onnx::OperatorSetIdProto* op = proto.add_opset_import();
  op->set_domain("");
  op->set_version(kOpset);
  for (const auto& [k, v] : m.metadata) {
    onnx::StringStringEntryProto* e = proto.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("signfed");
  Builder(m, g).build();
  try {
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {  // a bug here, not a user error
    throw ExportError(fmt::format("internal error: the ONNX graph fails onnx's checker: {}", e.what()));
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw ExportError("internal error: cannot serialise the ONNX model");
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (f) f.close();
  if (!f)
    throw ExportError(fmt::format("cannot write {}: {} (check the directory exists, is writable and has space)", path,
                                  std::strerror(errno)));
}

}  // namespace signfed::exporter
