#include "coordinator/config.h"

#include <cmath>

#include <nlohmann/json.hpp>

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

nlohmann::json to_json(const CoordinatorConfig& c) {
  return {
      {"tag", c.tag},
      {"rounds", c.rounds},
      {"clients", c.clients},
      {"min_clients", c.min_clients},
      {"fraction", c.fraction},
      {"round_timeout_ms", c.round_timeout_ms},
      {"model", c.model},
      {"seed", c.seed},
      {"method", codec::method_name(c.method.method)},
      {"gamma", c.method.gamma},
      {"gamma_auto", c.gamma_auto},
      {"eta", c.method.eta},
      {"momentum", c.method.momentum},
      {"tie_rule", wire::EnumNameTieRule(c.method.tie_rule)},
      {"batch_size", c.batch_size},
      {"local_steps", c.local_steps},
      {"step_size", c.step_size},
      {"schedule", wire::EnumNameStepSchedule(c.schedule)},
      {"halve_every", c.halve_every},
      {"guarded_step", c.guarded_step},
      {"eval_every", c.eval_every},
      {"data_dir", c.data_dir},
      {"test_limit", c.test_limit},
      {"checkpoint_every", c.checkpoint_every},
      {"policy", c.policy.name()},
      {"virtual_time", c.virtual_time},
      {"dead_after_ms", c.dead_after_ms},
  };
}

void apply_stored_config(const nlohmann::json& j, CoordinatorConfig& c) {
  c.tag = j.at("tag").get<std::string>();
  c.rounds = j.at("rounds");
  c.clients = j.at("clients");
  c.min_clients = j.at("min_clients");
  c.fraction = j.at("fraction");
  c.round_timeout_ms = j.at("round_timeout_ms");
  c.model = j.at("model").get<std::string>();
  c.seed = j.at("seed");
  if (!codec::parse_method(j.at("method").get<std::string>(), &c.method.method))
    throw std::invalid_argument("stored config has an unknown method");
  c.method.gamma = j.at("gamma");
  c.gamma_auto = j.at("gamma_auto");
  c.method.eta = j.at("eta");
  c.method.momentum = j.at("momentum");
  c.method.tie_rule = j.at("tie_rule").get<std::string>() == "random" ? wire::TieRule::random : wire::TieRule::zero;
  c.batch_size = j.at("batch_size");
  c.local_steps = j.at("local_steps");
  c.step_size = j.at("step_size");
  const std::string sched = j.at("schedule").get<std::string>();
  c.schedule = sched == "inv_sqrt" ? wire::StepSchedule::inv_sqrt
               : sched == "halving" ? wire::StepSchedule::halving
                                    : wire::StepSchedule::constant;
  c.halve_every = j.at("halve_every");
  c.guarded_step = j.at("guarded_step");
  c.eval_every = j.at("eval_every");
  c.data_dir = j.at("data_dir").get<std::string>();
  c.test_limit = j.at("test_limit");
  c.checkpoint_every = j.at("checkpoint_every");
  c.policy = parse_policy(j.at("policy").get<std::string>());
  c.virtual_time = j.at("virtual_time");
  c.dead_after_ms = j.at("dead_after_ms");
}

}  // namespace signfed::coord
