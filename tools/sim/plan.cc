#include "tools/sim/plan.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/data/sampler.h"
#include "core/model/model.h"
#include "tools/sim/npy.h"
#include "tools/sim/sim_db.h"

namespace signfed::sim {
namespace {

// The decoded vector of a packet: ternary signs times the scale, or the floats.
std::vector<float> decoded(const codec::SignPacket& p) {
  if (p.encoding == wire::Encoding::float32) return codec::decode_float32(p.view());
  const codec::TernarySigns t = codec::decode_ternary(p.view());
  std::vector<float> x(p.dim);
  for (std::uint32_t i = 0; i < p.dim; ++i) x[i] = static_cast<float>(t.at(i)) * p.scale;
  return x;
}

std::string name(const std::string& kind, std::uint32_t round, int client = -1) {
  std::string s = "trace/" + kind + "_r" + std::to_string(round);
  if (client >= 0) s += "_c" + std::to_string(client);
  return s + ".npy";
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path, std::ios::trunc);
  f << j.dump(1) << "\n";
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace

std::vector<std::uint32_t> parse_round_list(const std::string& text) {
  std::vector<std::uint32_t> out;
  std::stringstream ss(text);
  std::string item;
  try {
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      const auto dash = item.find('-');
      std::size_t used = 0;
      const unsigned long a = std::stoul(item.substr(0, dash), &used);
      if (used != item.substr(0, dash).size()) throw std::invalid_argument("");
      const unsigned long b = dash == std::string::npos ? a : std::stoul(item.substr(dash + 1));
      if (b < a || b - a > 1000000) throw std::invalid_argument("");
      for (auto r = a; r <= b; ++r) out.push_back(static_cast<std::uint32_t>(r));
    }
  } catch (const std::exception&) {
    throw std::invalid_argument("bad round list '" + text + "': expected e.g. 0-4,999");
  }
  return out;
}

PlanExporter::PlanExporter(const SimConfig& cfg, const std::vector<std::vector<std::uint32_t>>& shards)
    : cfg_(cfg), dir_(cfg.export_plan_dir) {
  const auto& c = cfg.coord;
  if (cfg.processes) throw std::invalid_argument("--export-plan needs the in-process simulator (not --processes)");
  if (c.fraction < 1.0 || cfg.faults.dropout > 0.0 || !cfg.faults.crashes.empty() || c.guarded_step ||
      c.virtual_time || c.min_clients > 0)
    throw std::invalid_argument("--export-plan describes runs where every client counts in every round: drop "
                                "--fraction, --min-clients, --dropout, --crash, --virtual-time and --guarded-step");
  if (c.model != "mlp" && !c.model.starts_with("mlp:"))
    throw std::invalid_argument("--export-plan: the reference harness implements MLPs only (--model mlp:A-...-Z)");
  std::filesystem::create_directories(dir_ + "/trace");
  const auto model = model::make_model(c.model, c.seed, c.init);
  write_npy(dir_ + "/init.npy", model->params(), {model->num_params()});
  std::vector<std::uint32_t> all;
  std::vector<std::uint64_t> offsets = {0};
  for (const auto& s : shards) {
    all.insert(all.end(), s.begin(), s.end());
    offsets.push_back(all.size());
    samples_.push_back(s.size());
  }
  write_npy(dir_ + "/shards.npy", all, {all.size()});
  write_npy(dir_ + "/shard_offsets.npy", offsets, {offsets.size()});
  // Client m's minibatch (round r, step s) is number r*S + s of its epoch
  // sequence (data/sampler.h), mapped through its shard to training rows.
  const std::size_t M = shards.size(), R = c.rounds, S = c.local_steps, B = c.batch_size;
  std::vector<std::uint32_t> batches(M * R * S * B), pos(B);
  for (std::size_t m = 0; m < M; ++m) {
    data::EpochSampler sampler(shards[m].size(), data::client_batch_seed(cfg.data_seed, static_cast<std::uint32_t>(m)));
    for (std::size_t k = 0; k < R * S; ++k) {
      sampler.batch(k, pos);
      for (std::size_t b = 0; b < B; ++b) batches[(m * R * S + k) * B + b] = shards[m][pos[b]];
    }
  }
  write_npy(dir_ + "/batches.npy", batches, {M, R, S, B});
}

bool PlanExporter::traced(std::uint32_t round) const {
  return round < cfg_.trace_rounds ||
         std::find(cfg_.trace_at.begin(), cfg_.trace_at.end(), round) != cfg_.trace_at.end();
}

void PlanExporter::client_update(std::uint32_t client, std::uint32_t round, std::span<const float> compressed,
                                 const codec::SignPacket& sent) {
  if (!traced(round)) return;
  write_npy(dir_ + "/" + name("grad", round, static_cast<int>(client)), compressed, {compressed.size()});
  const std::vector<float> x = decoded(sent);
  write_npy(dir_ + "/" + name("sent", round, static_cast<int>(client)), x, {x.size()});
  std::lock_guard lock(mu_);
  packets_.push_back({round, client, wire::EnumNameEncoding(sent.encoding), sent.payload.size(), sent.nnz, sent.dim});
}

void PlanExporter::round_result(std::uint32_t round, const codec::SignPacket& result) {
  if (!traced(round)) return;
  const std::vector<float> x = decoded(result);
  write_npy(dir_ + "/" + name("result", round), x, {x.size()});
}

void PlanExporter::round_end(const coord::RoundRow& row, std::span<const float> params, bool) {
  if (traced(row.round)) write_npy(dir_ + "/" + name("params", row.round), params, {params.size()});
}

void PlanExporter::finish(const coord::RunSummary& summary) {
  const auto& c = cfg_.coord;
  SQLite::Database db = open_sim_db(c.db_path);
  const std::string run = std::to_string(summary.run_id);
  const std::int64_t short_rounds = db.execAndGet("SELECT COUNT(*) FROM rounds WHERE run_id=" + run +
                                                  " AND received < " + std::to_string(cfg_.clients))
                                        .getInt64();
  if (short_rounds > 0)
    throw std::runtime_error("--export-plan: " + std::to_string(short_rounds) +
                             " rounds did not count every client, so the plan does not describe this run "
                             "(raise --round-timeout)");
  // The configuration as the run stored and used it (gamma after 'auto', input statistics).
  write_plan(nlohmann::json::parse(db.execAndGet("SELECT config FROM runs WHERE run_id=" + run).getString()), true);
  nlohmann::json evals = nlohmann::json::array();
  SQLite::Statement ev(db, "SELECT round, test_accuracy, test_loss FROM rounds WHERE run_id=" + run +
                               " AND test_accuracy IS NOT NULL ORDER BY round");
  while (ev.executeStep())
    evals.push_back({ev.getColumn(0).getInt64(), ev.getColumn(1).getDouble(), ev.getColumn(2).getDouble()});
  const std::string digest = fmt::format("{:016x}", summary.final_digest);
  write_json(dir_ + "/signfed.json",
             {{"evals", evals}, {"final_accuracy", summary.final_accuracy}, {"final_digest", digest}});
  nlohmann::json pk = nlohmann::json::array();
  std::sort(packets_.begin(), packets_.end(),
            [](const PacketRow& a, const PacketRow& b) { return std::tie(a.round, a.client) < std::tie(b.round, b.client); });
  for (const auto& p : packets_)
    pk.push_back({{"round", p.round}, {"client", p.client}, {"encoding", p.encoding},
                  {"payload_bytes", p.payload_bytes}, {"nnz", p.nnz}, {"dim", p.dim}});
  write_json(dir_ + "/trace/packets.json", pk);
}

void PlanExporter::write_plan(const nlohmann::json& conf, bool traced_run) {
  const auto& c = cfg_.coord;
  const auto model = model::make_model(c.model, 0);
  std::vector<std::size_t> layers;
  const std::string spec = model->spec();  // "mlp:784-128-10" (a named string: the view below must not dangle)
  for (std::string_view rest = std::string_view(spec).substr(4); !rest.empty();) {
    const auto dash = rest.find('-');
    layers.push_back(std::stoul(std::string(rest.substr(0, dash))));
    rest = dash == std::string_view::npos ? std::string_view() : rest.substr(dash + 1);
  }
  const std::string dir = cfg_.train_dir.empty() ? std::string(data::kFashionMnistDir) : cfg_.train_dir;
  const bool standardised = conf.at("standardise").get<bool>();
  nlohmann::json plan = {
      {"method", conf.at("method")},
      {"clients", cfg_.clients},
      {"rounds", c.rounds},
      {"local_steps", c.local_steps},
      {"batch", c.batch_size},
      {"lr", conf.at("step_size")},
      {"server_lr", conf.at("server_lr")},
      {"schedule", conf.at("schedule")},
      {"gamma", conf.at("gamma")},
      {"k", methods::topk_count(model->num_params(), conf.at("gamma").get<double>())},
      {"eta", conf.at("eta")},
      {"momentum", conf.at("momentum")},
      {"tie_rule", conf.at("tie_rule")},
      {"weighting", conf.at("weighting")},
      {"client_samples", samples_},
      {"seed", c.seed},
      {"data_seed", cfg_.data_seed},
      {"partition", cfg_.partition},
      {"model", model->spec()},
      {"init", conf.at("init")},
      {"layers", layers},
      {"num_params", model->num_params()},
      {"standardise", standardised ? nlohmann::json{{"mean", conf.at("input_mean")}, {"std", conf.at("input_std")}}
                                   : nlohmann::json(nullptr)},
      {"train_images", data::idx_file(dir, data::Split::train, false)},
      {"train_labels", data::idx_file(dir, data::Split::train, true)},
      {"test_images", data::idx_file(dir, data::Split::test, false)},
      {"test_labels", data::idx_file(dir, data::Split::test, true)},
      {"eval_every", c.eval_every},
      {"test_limit", c.test_limit},
      {"trace_rounds", traced_run ? std::min(cfg_.trace_rounds, c.rounds) : 0},
      {"trace_at", traced_run ? cfg_.trace_at : std::vector<std::uint32_t>{}},
  };
  write_json(dir_ + "/plan.json", plan);
}

void PlanExporter::write_plan_only() {
  coord::CoordinatorConfig c = cfg_.coord;
  c.clients = cfg_.clients;
  coord::resolve_run_config(c, model::make_model(c.model, 0)->num_params());
  write_plan(coord::to_json(c), false);
}

}  // namespace signfed::sim
