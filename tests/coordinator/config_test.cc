#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "coordinator/config.h"
#include "coordinator/run_options.h"
#include "tests/support/temp_db.h"

using namespace signfed;

TEST_CASE("config: step schedules") {
  coord::CoordinatorConfig c;
  c.step_size = 0.01f;
  CHECK(c.step_at(0) == 0.01f);
  CHECK(c.step_at(99) == 0.01f);
  c.schedule = wire::StepSchedule::inv_sqrt;
  CHECK(c.step_at(3) == doctest::Approx(0.005));
  c.schedule = wire::StepSchedule::halving;
  c.halve_every = 10;
  CHECK(c.step_at(9) == 0.01f);
  CHECK(c.step_at(10) == 0.005f);
  CHECK(c.step_at(25) == 0.0025f);
}

TEST_CASE("config: stored JSON round trips the training fields") {
  coord::CoordinatorConfig a;
  a.rounds = 321;
  a.method.method = wire::Method::s3gd;
  a.method.gamma = 0.1f;
  a.method.tie_rule = wire::TieRule::random;
  a.schedule = wire::StepSchedule::halving;
  a.model = "cnn";
  a.endpoint = "tcp://*:7777";
  coord::CoordinatorConfig b;
  coord::apply_stored_config(coord::to_json(a), b);
  CHECK(b.rounds == 321);
  CHECK(b.method.method == wire::Method::s3gd);
  CHECK(b.method.gamma == 0.1f);
  CHECK(b.method.tie_rule == wire::TieRule::random);
  CHECK(b.schedule == wire::StepSchedule::halving);
  CHECK(b.model == "cnn");
  CHECK(b.endpoint == "tcp://*:5555");  // deployment fields are not stored
}

TEST_CASE("config: every stored field round trips, including an adaptive quantile of three digits") {
  coord::CoordinatorConfig a;
  a.policy = coord::parse_policy("adaptive:0.975");
  a.guarded_step = true;
  a.checkpoint_every = 7;
  a.server_lr = 0.25f;
  a.weighting = coord::Weighting::uniform;
  a.aggregate = {.rule = methods::AggregateRule::trimmed, .trim = 0.2, .clip = 2.5};
  a.init = model::Init::torch;
  a.method.momentum = 0.5f;
  a.gamma_auto = true;
  a.halve_every = 9;
  a.eval_every = 3;
  a.test_limit = 100;
  a.dead_after_ms = 1234;
  a.virtual_time = true;
  a.local_steps = 4;
  a.data_dir = "/data";
  a.central_test = false;
  a.test_file = "/data/test.npy";
  a.test_labels = "/data/test-labels.npy";
  a.input_stats = coord::CoordinatorConfig::InputStats::federated;
  a.input_mean_per_feature = {0.5f, -3.0f};
  a.input_std_per_feature = {2.0f, 0.125f};
  a.tag = "t";
  // Every training field is stored (a field missing here is lost on --resume
  // and by --processes); deployment fields (endpoint, db, keys) are not.
  std::vector<std::string> keys;
  const nlohmann::json stored = coord::to_json(a);
  for (auto it = stored.begin(); it != stored.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{
                    "aggregate", "batch_size", "central_test", "checkpoint_every", "clients", "clip", "data_dir", "dead_after_ms", "eta", "eval_every",
                    "fraction", "gamma", "gamma_auto", "guarded_step", "halve_every", "init", "input_mean",
                    "input_mean_per_feature", "input_stats", "input_std", "input_std_per_feature", "local_steps", "method", "min_clients", "model", "momentum", "policy", "round_timeout_ms",
                    "rounds", "schedule", "seed", "server_lr", "standardise", "step_size", "tag",
                    "test_file", "test_labels", "test_limit", "tie_rule", "virtual_time", "weighting"});
  coord::CoordinatorConfig b;
  coord::apply_stored_config(coord::to_json(a), b);
  CHECK(coord::to_json(b).dump() == coord::to_json(a).dump());  // (NaN statistics compare unequal as values)
  CHECK(b.halve_every == 9);
  CHECK(b.dead_after_ms == 1234);
  CHECK(b.policy.name() == "adaptive:0.975");
  CHECK(b.policy.quantile == 0.975);
  CHECK(b.aggregate.rule == methods::AggregateRule::trimmed);
  CHECK(b.aggregate.trim == 0.2);
  CHECK(b.aggregate.clip == 2.5);
  // A run logged before --aggregate and --clip existed used the plain mean.
  nlohmann::json old = coord::to_json(a);
  old.erase("aggregate");
  old.erase("clip");
  coord::CoordinatorConfig c;
  c.aggregate.clip = 7.0;
  coord::apply_stored_config(old, c);
  CHECK(c.aggregate.rule == methods::AggregateRule::mean);
  CHECK(c.aggregate.clip == 0.0);
  CHECK(b.central_test == false);
  // A run logged before federated evaluation had its central test set.
  old.erase("central_test");
  coord::apply_stored_config(old, c);
  CHECK(c.central_test == true);
}

TEST_CASE("config file: a partial file sets what it names, flags override it, an unknown key is refused") {
  test::TempDb t("run.json");
  {
    std::ofstream f(t.path);
    f << R"({"method": "fedavg", "step_size": 0.05, "policy": "adaptive:0.975", "rounds": 42})";
  }
  coord::CoordinatorConfig c;
  coord::load_config_file(t.path, c);
  CHECK(c.method.method == wire::Method::fedavg);
  CHECK(c.step_size == 0.05f);
  CHECK(c.rounds == 42);
  CHECK(c.batch_size == 32);  // not named: unchanged

  // As signfed-coordinator does: the file's values become the text defaults,
  // then flags given on the command line win.
  coord::TrainingText text = coord::training_text_of(c);
  CLI::App app;
  coord::add_training_options(app, c, text, "t", "s");
  const char* argv[] = {"x", "--lr", "0.2", "--server-lr", "0.5"};
  app.parse(5, argv);
  const auto given = [&](std::string_view f) { return app.count(std::string(f)) > 0; };
  REQUIRE(coord::apply_training_options(text, given, given, c) == "");
  CHECK(c.method.method == wire::Method::fedavg);
  CHECK(c.step_size == 0.2f);
  CHECK(c.server_lr == 0.5f);
  CHECK(c.policy.name() == "adaptive:0.975");

  {
    std::ofstream f(t.path);
    f << R"({"metod": "s3gd"})";
  }
  CHECK_THROWS_WITH_AS(coord::load_config_file(t.path, c), doctest::Contains("unknown key 'metod'"), std::runtime_error);
}

TEST_CASE("training options: names come from the schema and a flag the method does not use is refused") {
  coord::CoordinatorConfig c;
  coord::TrainingText text;
  CLI::App app;
  coord::add_training_options(app, c, text, "t", "s");
  const char* argv[] = {"x", "--method", "signsgd", "--tie", "random", "--schedule", "inv_sqrt", "--eta", "2"};
  app.parse(9, argv);
  const auto given = [&](std::string_view f) { return app.count(std::string(f)) > 0; };
  const std::string err = coord::apply_training_options(text, given, given, c);
  CHECK(err.find("--eta has no effect with --method signsgd") != std::string::npos);
  text.method = "s3gd";
  CHECK(coord::apply_training_options(text, given, given, c) == "");
  CHECK(c.method.tie_rule == wire::TieRule::random);
  CHECK(c.schedule == wire::StepSchedule::inv_sqrt);
  text.gamma = "1.5";
  CHECK(coord::apply_training_options(text, given, given, c).find("--gamma must be in (0, 1]") != std::string::npos);
}

TEST_CASE("training options: --aggregate and --clip act on the mean methods only, and say what is wrong") {
  const auto parse = [](std::vector<const char*> argv, coord::CoordinatorConfig& c) {
    coord::TrainingText text;
    CLI::App app;
    coord::add_training_options(app, c, text, "t", "s");
    argv.insert(argv.begin(), "x");
    app.parse(static_cast<int>(argv.size()), argv.data());
    const auto given = [&](std::string_view f) { return app.count(std::string(f)) > 0; };
    return coord::apply_training_options(text, given, given, c);
  };
  coord::CoordinatorConfig c;
  CHECK(parse({"--method", "fedavg", "--aggregate", "trimmed:0.1", "--clip", "10"}, c) == "");
  CHECK(c.aggregate.rule == methods::AggregateRule::trimmed);
  CHECK(c.aggregate.trim == 0.1);
  CHECK(c.aggregate.clip == 10.0);
  CHECK(c.strategy_config().aggregate.clip == 10.0);
  coord::CoordinatorConfig d;
  CHECK(parse({"--method", "signsgd", "--aggregate", "median"}, d).find("--aggregate has no effect with --method signsgd") !=
        std::string::npos);
  CHECK(parse({"--method", "s3gd", "--clip", "1"}, d).find("--clip has no effect with --method s3gd") !=
        std::string::npos);
  CHECK(parse({"--method", "fedsgd", "--aggregate", "trimmed:0.6"}, d).find("0 < F < 0.5") != std::string::npos);
  CHECK(parse({"--method", "fedsgd", "--clip", "-1"}, d).find("--clip must be a finite L2 norm >= 0") !=
        std::string::npos);
  CHECK(parse({"--method", "fedsgd", "--clip", "inf"}, d).find("--clip must be a finite L2 norm >= 0") !=
        std::string::npos);
}

TEST_CASE("--resume refuses a flag that contradicts the stored run, and accepts one that repeats it") {
  coord::CoordinatorConfig stored_cfg;
  stored_cfg.step_size = 0.001f;
  stored_cfg.rounds = 150;
  stored_cfg.gamma_auto = true;
  stored_cfg.method.gamma = 0.0123f;  // resolved when the run opened
  const nlohmann::json stored = coord::to_json(stored_cfg);

  coord::CoordinatorConfig cli = stored_cfg;
  cli.method.gamma = 0.5f;  // 'auto' on the command line: not resolved yet
  CHECK(coord::resume_conflicts(coord::to_json(cli), stored, {"--rounds", "--lr", "--gamma", "--db"}).empty());

  cli.step_size = 0.01f;
  cli.rounds = 300;
  // Not given: the stored value is kept, nothing to refuse.
  CHECK(coord::resume_conflicts(coord::to_json(cli), stored, {"--db"}).empty());
  const std::string err = coord::resume_conflicts(coord::to_json(cli), stored, {"--lr", "--rounds", "--resume"});
  CHECK(err.find("--lr 0.009999999776482582 (the run has 0.0010000000474974513)") != std::string::npos);
  CHECK(err.find("--rounds 300 (the run has 150)") != std::string::npos);
  CHECK(err.find("drop those flags") != std::string::npos);
  // --config: every field its configuration sets is compared.
  CHECK(coord::resume_conflicts(coord::to_json(cli), stored, {"--config"}).find("step_size 0.0099") !=
        std::string::npos);
}

TEST_CASE("--no-test: refused with --test-limit and with --eval-every 0, where it would change nothing") {
  coord::CoordinatorConfig c;
  c.central_test = false;
  const auto given = [](std::initializer_list<std::string_view> flags) {
    std::vector<std::string_view> v(flags);
    return [v](std::string_view f) { return std::find(v.begin(), v.end(), f) != v.end(); };
  };
  CHECK(coord::check_flag_combinations(c, given({"--no-test"})).empty());
  CHECK(coord::check_flag_combinations(c, given({"--no-test", "--test-limit"})).find("--no-test") != std::string::npos);
  c.eval_every = 0;
  CHECK(coord::check_flag_combinations(c, given({"--no-test"})).find("--eval-every 0") != std::string::npos);
}
