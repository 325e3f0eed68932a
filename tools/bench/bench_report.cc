#include "tools/bench/bench_report.h"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace signfed::bench {
namespace {

std::string duration(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} us", s * 1e6);
  if (s < 1.0) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

std::string ratio_text(const BenchResult& r) {
  return r.goal == Goal::kSpeedupAtLeast ? fmt::format("{:.2f}x faster", r.speedup())
                                         : fmt::format("{:.2f}x time", r.ratio());
}

std::string target_text(const BenchResult& r) {
  switch (r.goal) {
    case Goal::kRatioAtMost: return fmt::format("<= {:.1f}x time", r.target);
    case Goal::kSpeedupAtLeast: return fmt::format(">= {:.1f}x faster", r.target);
    case Goal::kNone: break;
  }
  return "-";
}

const char* goal_name(Goal g) {
  switch (g) {
    case Goal::kRatioAtMost: return "ratio_at_most";
    case Goal::kSpeedupAtLeast: return "speedup_at_least";
    case Goal::kNone: break;
  }
  return "none";
}

void line(std::ostream& os, const std::string& group, const std::string& n, const std::string& param,
          const std::string& variant, const std::string& time, const std::string& base, const std::string& ratio,
          const std::string& target, const std::string& status, const std::string& note = "") {
  os << fmt::format("{:<7} {:>10} {:<6} {:<10} {:>11} {:>11} {:<15} {:<16} {:<6} {}\n", group, n, param, variant, time,
                    base, ratio, target, status, note);
}

}  // namespace

void print_table_header(std::ostream& os) {
  line(os, "group", "N", "M/K", "variant", "time", "baseline", "ratio", "target", "status");
  line(os, "-----", "-", "---", "-------", "----", "--------", "-----", "------", "------");
}

void print_table_rows(std::ostream& os, std::span<const BenchResult> rows) {
  for (const BenchResult& r : rows) {
    const std::string status = r.goal == Goal::kNone ? "-" : r.pass() ? "PASS" : "MISS";
    line(os, r.group, std::to_string(r.n), r.param, r.variant + (r.best ? "*" : ""), duration(r.time.min_s),
         duration(r.baseline_time.min_s), ratio_text(r), target_text(r), status, r.note);
  }
  os.flush();
}

int print_misses(std::ostream& os, std::span<const BenchResult> rows) {
  int misses = 0;
  for (const BenchResult& r : rows) {
    if (!r.best || r.pass()) continue;
    ++misses;
    os << "MISS " << r.group << " N=" << r.n << " " << r.param << " " << r.variant << ": " << ratio_text(r)
       << ", target " << target_text(r) << "\n";
  }
  return misses;
}

void print_speedup_table(std::ostream& os, std::span<const BenchResult> rows) {
  // Variant columns in order of first appearance (scalar first: it is listed first).
  std::vector<std::string> variants;
  for (const BenchResult& r : rows)
    if (std::find(variants.begin(), variants.end(), r.variant) == variants.end()) variants.push_back(r.variant);
  if (std::find(variants.begin(), variants.end(), "scalar") == variants.end()) return;
  std::string best;
  for (const BenchResult& r : rows)
    if (r.best) best = r.variant;

  auto cell = [](const std::string& text) { return fmt::format(" {:>10}", text); };
  os << "speed-up vs scalar: scalar time / variant time (min of runs, same process, same buffers); * = best_sign_kernels()\n";
  std::string line = fmt::format("{:<7} {:>10} {:<6}", "kernel", "N", "M/K") + cell("scalar");
  for (const std::string& v : variants)
    if (v != "scalar") line += cell(v + (v == best ? "*" : ""));
  os << line << "\n";
  // One line per (group, n, param) that has a scalar row, in first-appearance order.
  std::vector<const BenchResult*> scalars;
  for (const BenchResult& r : rows)
    if (r.variant == "scalar") scalars.push_back(&r);
  for (const BenchResult* s : scalars) {
    line = fmt::format("{:<7} {:>10} {:<6}", s->group, s->n, s->param) + cell(duration(s->time.min_s));
    for (const std::string& v : variants) {
      if (v == "scalar") continue;
      std::string text = "-";
      for (const BenchResult& r : rows)
        if (r.variant == v && r.group == s->group && r.n == s->n && r.param == s->param)
          text = fmt::format("{:.2f}x", s->time.min_s / r.time.min_s);
      line += cell(text);
    }
    os << line << "\n";
  }
  os.flush();
}

void write_json(const std::string& path, std::span<const BenchResult> rows, const std::string& best_variant) {
  nlohmann::json doc;
  doc["tool"] = "signfed-bench";
  doc["best_variant"] = best_variant;
  doc["timing"] = "min over repeated runs (median also given), seconds";
  nlohmann::json list = nlohmann::json::array();
  for (const BenchResult& r : rows) {
    list.push_back({{"group", r.group},
                    {"n", r.n},
                    {"param", r.param},
                    {"note", r.note},
                    {"variant", r.variant},
                    {"best", r.best},
                    {"seconds", r.time.min_s},
                    {"seconds_median", r.time.median_s},
                    {"runs", r.time.runs},
                    {"baseline", r.baseline},
                    {"baseline_seconds", r.baseline_time.min_s},
                    {"baseline_seconds_median", r.baseline_time.median_s},
                    {"ratio", r.ratio()},
                    {"speedup", r.speedup()},
                    {"goal", goal_name(r.goal)},
                    {"target", r.target},
                    {"pass", r.pass()}});
  }
  doc["results"] = std::move(list);
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace signfed::bench
