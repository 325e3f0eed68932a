#include "tests/export/export_fixture.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>

#include <flatbuffers/flatbuffers.h>
#include <nlohmann/json.hpp>

#include "coordinator/config.h"
#include "coordinator/round_log.h"
#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "core/data/dataset.h"
#include "core/data/moments.h"
#include "core/model/model.h"
#include "core/model/spec.h"
#include "core/replica/replay.h"
#include "core/replica/replica.h"
#include "tests/e2e/process.h"

namespace signfed::test {
namespace {

// Model::logits is protected; a class derived from Model may name it, and the
// pointer to member it forms calls the real model's override. Test-only: the
// exported graph is held to the very forward pass signfed evaluates with.
struct LogitsOf : model::Model {
  static std::vector<float> of(model::Model& m, std::span<const float> x, std::size_t n) {
    const std::size_t chunk = (m.*(&LogitsOf::prepare_eval))(n);
    std::vector<float> out;
    const std::size_t k = model::num_outputs(m.architecture());  // 1 for a binary cross-entropy model
    for (std::size_t start = 0; start < n; start += chunk) {
      const std::size_t b = std::min(chunk, n - start);
      const float* z = (m.*(&LogitsOf::logits))(x.data() + start * m.input_size(), b);
      out.insert(out.end(), z, z + b * k);
    }
    return out;
  }
};

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace

ExportRun write_run(const std::string& db, const std::string& model_name, bool standardise, std::size_t n,
                    bool per_feature) {
  coord::CoordinatorConfig c;
  c.model = model_name;
  c.seed = 7;
  c.standardise = standardise;
  c.input_mean = standardise && !per_feature ? 0.2860f : 0.0f;
  c.input_std = standardise && !per_feature ? 0.3530f : 1.0f;
  data::Standardisation st{standardise, c.input_mean, c.input_std};

  data::Dataset train = data::load_fashion_mnist(data::kFashionMnistDir, data::Split::train);
  data::widen(train);  // pixels as floats, read in contiguous batches below
  if (standardise && per_feature) {  // as the coordinator does from the clients' moments
    st = data::standardisation_from(data::feature_moments(train), data::MomentPooling::per_feature);
    c.input_stats = coord::CoordinatorConfig::InputStats::federated;
    c.input_mean_per_feature = st.feature_mean;
    c.input_std_per_feature = st.feature_std;
  }
  data::Dataset test = data::load_fashion_mnist(data::kFashionMnistDir, data::Split::test);
  data::widen(test);
  std::unique_ptr<model::Model> m = model::make_model(c.model, c.seed, c.init);
  const std::size_t in = m->input_size(), batch = 32;
  std::vector<float> grad(m->num_params()), xb(batch * in);

  coord::RoundLog log(db);
  ExportRun run;
  run.db = db;
  run.run_id = log.begin_run(coord::to_json(c).dump(), 3, "export test");
  const std::uint64_t basis = codec::architecture_basis(m->spec());
  core::Replica replica(m->params(), basis);  // steps through the code the coordinator and --resume use
  std::vector<float> mean(grad.size());
  for (std::uint32_t round = 0; round < 3; ++round) {
    // One step of 0.05 along the mean gradient of 10 minibatches (so biases and weights moved).
    std::fill(mean.begin(), mean.end(), 0.0f);
    for (std::size_t step = 0; step < 10; ++step) {
      const std::size_t first = ((round * 10 + step) * batch) % (train.rows - batch);
      st.apply(std::span(train.features).subspan(first * in, batch * in), xb);
      m->loss_and_grad(xb, std::span(train.labels).subspan(first, batch), batch, grad);
      for (std::size_t i = 0; i < grad.size(); ++i) mean[i] += grad[i] / 10.0f;
    }
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(codec::build_packet(fbb, codec::encode_float32(mean)));
    coord::ResultRow result;
    result.round = round;
    result.packet.assign(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    result.step = 0.05f;
    result.applied = true;
    replica.apply(core::logged_packet_view(result.packet, round), result.step, 0.0f);
    coord::RoundRow row;
    row.round = round;
    row.model_digest = replica.digest();
    result.digest = row.model_digest;
    run.digests.push_back(row.model_digest);
    coord::Checkpoint ck;
    ck.round = round;
    ck.digest = row.model_digest;
    ck.params.assign(m->params().begin(), m->params().end());
    log.commit_round(run.run_id, row, {}, &result, round == 1 ? nullptr : &ck, /*keep=*/round == 0, {});
  }
  log.end_run(run.run_id, "completed");

  run.n = n;
  run.features = in;
  run.classes = m->num_classes();
  run.x.assign(test.features.begin(), test.features.begin() + static_cast<std::ptrdiff_t>(n * in));
  std::vector<float> xs(run.x.size());
  st.apply(run.x, xs);
  run.logits = LogitsOf::of(*m, xs, n);
  return run;
}

int run_export(const std::vector<std::string>& args, std::string* output, const std::string& log) {
  Process p(SIGNFED_EXPORT_BIN, args, log);
  const int rc = p.wait(120);
  *output = p.output();
  return rc;
}

namespace {

void need_python() {
  if (!std::filesystem::exists("/usr/bin/python3"))
    throw std::runtime_error("no /usr/bin/python3: install Debian's python3, python3-numpy and python3-opencv "
                             "(tools/install-deps.sh --test)");
}

int run_python(const std::vector<std::string>& args, const std::string& log, std::string* output, double* max_diff) {
  std::vector<std::string> argv = {SIGNFED_EXPORT_CHECK};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p("/usr/bin/python3", argv, log);
  const int rc = p.wait(300);
  *output = p.output();
  *max_diff = -1;
  if (const std::size_t at = output->find("max abs diff "); at != std::string::npos)
    *max_diff = std::stod(output->substr(at + 13));
  return rc;
}

}  // namespace

std::vector<float> model_logits(model::Model& m, std::span<const float> x, std::size_t n) {
  return LogitsOf::of(m, x, n);
}

int run_check(const std::string& mode, const std::string& model, const ExportRun& run, const std::string& work,
              std::string* output, double* max_diff) {
  need_python();
  const std::string xs = work + "/x.f32", refs = work + "/logits.f32";
  write_floats(xs, run.x);
  write_floats(refs, run.logits);
  return run_python({mode, model, xs, refs, std::to_string(run.n), std::to_string(run.features),
                     std::to_string(run.classes)},
                    work + "/check-" + mode + ".log", output, max_diff);
}

int run_pair_check(const std::string& onnx, const std::string& npz, const std::vector<float>& x, std::size_t n,
                   std::size_t features, std::size_t classes, const std::string& work, std::string* output,
                   double* max_diff) {
  need_python();
  const std::string xs = work + "/x.f32";
  write_floats(xs, x);
  return run_python({"both", onnx, npz, xs, std::to_string(n), std::to_string(features), std::to_string(classes)},
                    work + "/check-both.log", output, max_diff);
}

}  // namespace signfed::test
