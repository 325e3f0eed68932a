#include "coordinator/config.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/data/dataset.h"

namespace signfed::coord {

float CoordinatorConfig::step_at(std::uint32_t round) const {
  switch (schedule) {
    case wire::StepSchedule::constant:
      return step_size;
    case wire::StepSchedule::inv_sqrt:  // Safaryan Thm. 1/3: gamma_0 / sqrt(k + 1)
      return static_cast<float>(step_size / std::sqrt(static_cast<double>(round) + 1.0));
    case wire::StepSchedule::halving:
      return static_cast<float>(std::ldexp(static_cast<double>(step_size),
                                           -static_cast<int>(round / std::max<std::uint32_t>(halve_every, 1))));
  }
  return step_size;
}

methods::StrategyConfig CoordinatorConfig::strategy_config() const {
  return {.method = method, .seed = seed, .weighting = weighting, .server_lr = server_lr, .aggregate = aggregate,
          .guarded_step = guarded_step};
}

std::uint32_t CoordinatorConfig::expected_voters() const {
  const std::uint32_t selected =
      std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::ceil(fraction * static_cast<double>(clients))));
  const std::uint32_t counted = static_cast<std::uint32_t>(updates_needed(policy, selected));
  return std::max<std::uint32_t>(1, min_clients > 0 ? std::min(min_clients, counted) : counted);
}

std::string check_method_flags(wire::Method m, const std::function<bool(std::string_view)>& given) {
  using M = wire::Method;
  struct Rule {
    const char* flag;
    std::initializer_list<M> methods;
    const char* names;
  };
  static const Rule rules[] = {
      {"--gamma", {M::s3gd, M::randk}, "s3gd, randk"},
      {"--eta", {M::s3gd, M::efsign}, "s3gd, efsign"},
      {"--momentum", {M::signum, M::s3gd, M::randk}, "signum, s3gd, randk"},
      {"--tie", {M::signsgd, M::signum, M::s3gd, M::randk}, "signsgd, signum, s3gd, randk"},
      {"--server-lr", {M::fedavg}, "fedavg"},
      {"--weighting", {M::stochsign, M::efsign, M::fedsgd, M::fedavg}, "stochsign, efsign, fedsgd, fedavg"},
      {"--clip", {M::stochsign, M::efsign, M::fedsgd, M::fedavg}, "stochsign, efsign, fedsgd, fedavg"},
      {"--aggregate", {M::stochsign, M::efsign, M::fedsgd, M::fedavg}, "stochsign, efsign, fedsgd, fedavg"},
  };
  for (const Rule& r : rules) {
    if (!given(r.flag)) continue;
    if (std::find(r.methods.begin(), r.methods.end(), m) != r.methods.end()) continue;
    return std::string(r.flag) + " has no effect with --method " + methods::method_name(m) + " (it is used by " +
           r.names + "); remove it";
  }
  return "";
}

void resolve_run_config(CoordinatorConfig& c, std::size_t num_params) {
  if (c.gamma_auto) c.method.gamma = static_cast<float>(methods::auto_gamma(c.expected_voters(), num_params));
  if (!c.standardise) {
    c.input_mean = 0.0f;
    c.input_std = 1.0f;
  } else if (c.input_stats == CoordinatorConfig::InputStats::federated) {
    // The per-feature vectors come from the clients' moments when the run
    // starts (Coordinator::fix_input_stats); the scalars are not used.
    c.input_mean = 0.0f;
    c.input_std = 1.0f;
  } else if (!std::isfinite(c.input_mean) || !std::isfinite(c.input_std)) {
    const data::Standardisation st =
        data::train_pixel_statistics(c.data_dir.empty() ? std::string(data::kFashionMnistDir) : c.data_dir);
    c.input_mean = st.mean;
    c.input_std = st.std;
  }
  if (c.standardise && !(c.input_std > 0.0f))
    throw std::runtime_error("input standard deviation must be positive, got " + std::to_string(c.input_std));
}

std::string check_flag_combinations(const CoordinatorConfig& c, const std::function<bool(std::string_view)>& given) {
  if (given("--halve-every") && c.schedule != wire::StepSchedule::halving)
    return "--halve-every has no effect without --schedule halving; remove it or add --schedule halving";
  if (given("--test-limit") && c.eval_every == 0)
    return "--test-limit has no effect with --eval-every 0 (no evaluation); remove it";
  if ((given("--test") || given("--test-labels")) && !c.central_test)
    return "--test names a central test set and --no-test says there is none: keep one of them";
  if (given("--test-labels") && !given("--test"))
    return "--test-labels belongs to --test FILE (.npy or IDX images); add --test or remove it";
  if (given("--test-limit") && !c.central_test)
    return "--test-limit has no effect with --no-test (no central test set); remove one of them";
  if (given("--input-stats") && !c.standardise)
    return "--input-stats has no effect with --no-standardise (raw inputs, no statistics); remove one of them";
  if (given("--no-test") && c.eval_every == 0)
    return "--no-test has no effect with --eval-every 0 (no evaluation at all); remove it";
  return "";
}

const char* input_stats_name(CoordinatorConfig::InputStats s) {
  return s == CoordinatorConfig::InputStats::federated ? "federated" : "dataset";
}
bool parse_input_stats(std::string_view name, CoordinatorConfig::InputStats* out) {
  if (name == "dataset") return (*out = CoordinatorConfig::InputStats::dataset), true;
  if (name == "federated") return (*out = CoordinatorConfig::InputStats::federated), true;
  return false;
}

namespace {
// flatc's EnumValues*/EnumName* pairs.
template <class E, std::size_t N>
std::vector<std::string> enum_names(const E (&values)[N], const char* (*name)(E)) {
  std::vector<std::string> out;
  for (E v : values) out.emplace_back(name(v));
  return out;
}
template <class E, std::size_t N>
bool parse_enum(std::string_view text, const E (&values)[N], const char* (*name)(E), E* out) {
  for (E v : values)
    if (text == name(v)) return (*out = v), true;
  return false;
}
}  // namespace

std::vector<std::string> tie_rule_names() { return enum_names(wire::EnumValuesTieRule(), wire::EnumNameTieRule); }
std::vector<std::string> schedule_names() {
  return enum_names(wire::EnumValuesStepSchedule(), wire::EnumNameStepSchedule);
}
bool parse_tie_rule(std::string_view name, wire::TieRule* out) {
  return parse_enum(name, wire::EnumValuesTieRule(), wire::EnumNameTieRule, out);
}
bool parse_schedule(std::string_view name, wire::StepSchedule* out) {
  return parse_enum(name, wire::EnumValuesStepSchedule(), wire::EnumNameStepSchedule, out);
}

namespace {

// The fields runs.config stores as they are, each under its name: one list
// for writing and reading back (fields needing a conversion are below).
template <class Config, class Field>
void plain_fields(Config& c, Field&& f) {
  f("tag", c.tag);
  f("rounds", c.rounds);
  f("clients", c.clients);
  f("min_clients", c.min_clients);
  f("fraction", c.fraction);
  f("round_timeout_ms", c.round_timeout_ms);
  f("model", c.model);
  f("seed", c.seed);
  f("gamma", c.method.gamma);
  f("gamma_auto", c.gamma_auto);
  f("eta", c.method.eta);
  f("momentum", c.method.momentum);
  f("batch_size", c.batch_size);
  f("local_steps", c.local_steps);
  f("step_size", c.step_size);
  f("halve_every", c.halve_every);
  f("guarded_step", c.guarded_step);
  f("eval_every", c.eval_every);
  f("data_dir", c.data_dir);
  f("test_limit", c.test_limit);
  f("checkpoint_every", c.checkpoint_every);
  f("virtual_time", c.virtual_time);
  f("dead_after_ms", c.dead_after_ms);
}

// Reads the named enum through `parse`, or says which field is unknown.
template <class E>
void stored_enum(const nlohmann::json& j, const char* key, bool (*parse)(std::string_view, E*), E* out) {
  if (!parse(j.at(key).get<std::string>(), out))
    throw std::invalid_argument(std::string("stored config has an unknown ") + key);
}

}  // namespace

nlohmann::json to_json(const CoordinatorConfig& c) {
  nlohmann::json j;
  plain_fields(c, [&](const char* key, const auto& v) { j[key] = v; });
  j["init"] = model::init_name(c.init);
  j["method"] = methods::method_name(c.method.method);
  j["tie_rule"] = wire::EnumNameTieRule(c.method.tie_rule);
  j["server_lr"] = c.server_lr;
  j["weighting"] = c.weighting == Weighting::uniform ? "uniform" : "samples";
  j["aggregate"] = methods::aggregate_rule_name(c.aggregate);
  j["clip"] = c.aggregate.clip;
  j["standardise"] = c.standardise;
  j["input_mean"] = c.input_mean;
  j["input_std"] = c.input_std;
  j["input_stats"] = input_stats_name(c.input_stats);
  j["input_mean_per_feature"] = c.input_mean_per_feature;
  j["input_std_per_feature"] = c.input_std_per_feature;
  j["schedule"] = wire::EnumNameStepSchedule(c.schedule);
  j["policy"] = c.policy.name();
  j["central_test"] = c.central_test;
  j["test_file"] = c.test_file;
  j["test_labels"] = c.test_labels;
  return j;
}

void apply_stored_config(const nlohmann::json& j, CoordinatorConfig& c) {
  plain_fields(c, [&](const char* key, auto& v) { j.at(key).get_to(v); });
  if (!model::parse_init(j.value("init", std::string("he")), &c.init))
    throw std::invalid_argument("stored config has an unknown init");
  stored_enum(j, "method", &methods::parse_method, &c.method.method);
  stored_enum(j, "tie_rule", &parse_tie_rule, &c.method.tie_rule);
  stored_enum(j, "schedule", &parse_schedule, &c.schedule);
  // Added with protocol 2; a run logged before has the old behaviour.
  c.server_lr = j.value("server_lr", 1.0f);
  c.weighting = j.value("weighting", std::string("uniform")) == "samples" ? Weighting::samples : Weighting::uniform;
  c.standardise = j.value("standardise", false);
  // Added with robust aggregation; a run logged before used the plain mean.
  if (std::string err = methods::parse_aggregate_rule(j.value("aggregate", std::string("mean")), &c.aggregate);
      !err.empty())
    throw std::invalid_argument("stored config has an unknown aggregate: " + err);
  c.aggregate.clip = j.value("clip", 0.0);
  // null (a --print-config of a run not opened yet): computed when the run opens.
  const auto stat = [&](const char* k, float dflt) {
    if (!j.contains(k)) return dflt;
    return j.at(k).is_null() ? std::numeric_limits<float>::quiet_NaN() : j.at(k).get<float>();
  };
  c.input_mean = stat("input_mean", 0.0f);
  c.input_std = stat("input_std", 1.0f);
  // Added with federated input statistics; a run logged before used the dataset's.
  if (!parse_input_stats(j.value("input_stats", std::string("dataset")), &c.input_stats))
    throw std::invalid_argument("stored config has an unknown input_stats");
  c.input_mean_per_feature = j.value("input_mean_per_feature", std::vector<float>{});
  c.input_std_per_feature = j.value("input_std_per_feature", std::vector<float>{});
  if (c.input_mean_per_feature.size() != c.input_std_per_feature.size())
    throw std::invalid_argument("stored config has input_mean_per_feature and input_std_per_feature of different sizes");
  c.policy = parse_policy(j.at("policy").get<std::string>());
  // Added with federated evaluation; a run logged before had a central test set.
  c.central_test = j.value("central_test", true);
  c.test_file = j.value("test_file", std::string());  // added with --test FILE
  c.test_labels = j.value("test_labels", std::string());
}

std::string resume_conflicts(const nlohmann::json& cli, const nlohmann::json& stored,
                             const std::vector<std::string>& given) {
  // Each flag that sets a stored field, and the runs.config keys it sets.
  static constexpr std::pair<std::string_view, std::string_view> kFlagKeys[] = {
      {"--tag", "tag"},           {"--rounds", "rounds"},         {"--clients", "clients"},
      {"--min-clients", "min_clients"}, {"--fraction", "fraction"}, {"--round-timeout", "round_timeout_ms"},
      {"--model", "model"},       {"--seed", "seed"},             {"--gamma", "gamma_auto"},
      {"--gamma", "gamma"},       {"--eta", "eta"},               {"--momentum", "momentum"},
      {"--batch", "batch_size"},  {"--local-steps", "local_steps"}, {"--lr", "step_size"},
      {"--halve-every", "halve_every"}, {"--guarded-step", "guarded_step"}, {"--eval-every", "eval_every"},
      {"--data", "data_dir"},     {"--test-limit", "test_limit"}, {"--checkpoint-every", "checkpoint_every"},
      {"--virtual-time", "virtual_time"}, {"--dead-after", "dead_after_ms"}, {"--init", "init"},
      {"--method", "method"},     {"--tie", "tie_rule"},          {"--server-lr", "server_lr"},
      {"--weighting", "weighting"}, {"--aggregate", "aggregate"}, {"--clip", "clip"},
      {"--no-standardise", "standardise"}, {"--schedule", "schedule"}, {"--policy", "policy"},
      {"--no-test", "central_test"}, {"--test", "test_file"}, {"--test-labels", "test_labels"},
      {"--input-stats", "input_stats"},
  };
  const bool whole_file = std::find(given.begin(), given.end(), "--config") != given.end();
  std::vector<std::string> conflicts;
  for (const auto& [flag, key] : kFlagKeys) {
    const std::string k(key);
    if (!whole_file && std::find(given.begin(), given.end(), flag) == given.end()) continue;
    // gamma 'auto' is resolved when the run opens: its value is the run's, not the flag's.
    if (k == "gamma" && cli.value("gamma_auto", false)) continue;
    if (!cli.contains(k) || !stored.contains(k) || cli.at(k) == stored.at(k)) continue;
    conflicts.push_back(fmt::format("{} {} (the run has {})", whole_file ? k : std::string(flag), cli.at(k).dump(),
                                    stored.at(k).dump()));
  }
  if (conflicts.empty()) return {};
  return fmt::format("--resume continues a run with the configuration it started with, but {} {}: drop {} "
                     "(--resume --print-config shows the stored values), or start a new run without --resume",
                     whole_file ? "--config sets" : "the command line sets",
                     fmt::join(conflicts, ", "), conflicts.size() == 1 ? "that flag" : "those flags");
}

}  // namespace signfed::coord
