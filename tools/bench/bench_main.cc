// signfed-bench: times the signfed hot loops against baselines measured in
// the same run and prints the ratios (see --help).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "tools/bench/bench_registry.h"
#include "tools/bench/bench_report.h"
#include "core/kernels/sign_kernels.h"

int main(int argc, char** argv) {
  using namespace signfed::bench;
  namespace k = signfed::kernels;

  std::vector<std::string> names;
  std::string group_help = "Benchmark groups:\n";
  for (const BenchGroup& g : bench_groups()) {
    names.emplace_back(g.name);
    group_help += "  " + std::string(g.name) + ": " + g.summary + "\n";
  }

  CLI::App app{"signfed-bench: times signfed's hot loops, each against a baseline timed in the same run.\n"
               "Every kernel variant this CPU supports is reported; '*' marks the one best_sign_kernels()\n"
               "picks, which is the one the targets are meant for."};
  app.footer(group_help +
             "\nColumns: time and baseline are the minimum over repeated runs (steady_clock);\n"
             "ratio is time/baseline ('x time') or baseline/time ('x faster'); status compares it to the target.\n"
             "Exit status: 0 even when targets are missed (the MISS lines say so); 1 on errors.");
  bool quick = false;
  bool speedup = false;
  std::string json_path;
  std::vector<std::string> only;
  BenchConfig config;
  config.sizes = {101'770, 1'000'000, 10'000'000};
  app.add_flag("--quick", quick, "Only the smallest size, N = 101,770 (the MNIST MLP parameter count)");
  app.add_flag("--speedup", speedup,
               "Also print, per kernel, every variant's speed-up over the scalar reference (e.g. NEON vs scalar)");
  app.add_option("--json", json_path, "Also write every result as JSON to FILE")->type_name("FILE");
  app.add_option("-g,--group", only, "Run only these groups (repeatable)")->check(CLI::IsMember(names));
  app.add_option("--min-time", config.timer.min_total_s, "Seconds to keep repeating each measurement")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--min-runs", config.timer.min_runs, "Timed runs per measurement, at least")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (quick) config.sizes = {101'770};
  config.timer.max_runs = std::max(config.timer.max_runs, config.timer.min_runs);

  try {
    std::cout << "signfed-bench  variants:";
    for (const k::SignKernels* kern : k::all_sign_kernels()) std::cout << " " << kern->name;
    std::cout << "  (best: " << k::best_sign_kernels().name << ")\n\n";
    print_table_header(std::cout);
    std::vector<BenchResult> all;
    for (const BenchGroup& g : bench_groups()) {
      if (!only.empty() && std::find(only.begin(), only.end(), g.name) == only.end()) continue;
      std::vector<BenchResult> rows;
      g.run(config, rows);
      print_table_rows(std::cout, rows);
      all.insert(all.end(), rows.begin(), rows.end());
    }
    std::cout << "\n";
    if (speedup) {
      print_speedup_table(std::cout, all);
      std::cout << "\n";
    }
    const int misses = print_misses(std::cout, all);
    std::cout << (misses == 0 ? "all targets met by the best variant\n"
                              : std::to_string(misses) + " target(s) missed by the best variant\n");
    if (!json_path.empty()) {
      write_json(json_path, all, k::best_sign_kernels().name);
      std::cout << "wrote " << json_path << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "signfed-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
