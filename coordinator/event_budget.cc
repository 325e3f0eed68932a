#include "coordinator/event_budget.h"

namespace signfed::coord {

namespace {

constexpr std::size_t kMaxSources = 100000;      // per-source windows kept (then cleared)
constexpr std::size_t kMaxTallySources = 10000;  // distinct sources counted per summary

void remember(std::set<std::string>& sources, const std::string& source) {
  if (sources.size() < kMaxTallySources) sources.insert(source);
}

std::string count_of(const std::set<std::string>& sources) {
  return (sources.size() >= kMaxTallySources ? "at least " : "") + std::to_string(sources.size());
}

// "N handshakes rejected from M keys/addresses" and the like, per tallied kind.
std::string what_of(const std::string& kind) {
  if (kind == "auth_rejected") return "CURVE handshakes rejected from %M keys/addresses";
  if (kind == "bad_message") return "malformed messages from %M peers that had not joined";
  if (kind == "bad_frame") return "multipart messages with a wrong frame count from %M peers that had not joined";
  return kind + " events from %M sources";
}

}  // namespace

void EventBudget::open_summary_window(double now_s) {
  if (!summary_start_) summary_start_ = now_s;
}

bool EventBudget::spend(const std::string& source, double now_s) {
  if (windows_.size() > kMaxSources) windows_.clear();  // bounded memory under a storm of sources
  auto [it, fresh] = windows_.try_emplace(source, Window{now_s, 0});
  Window& w = it->second;
  if (now_s - w.start >= kWindowS) w = Window{now_s, 0};
  if (now_s - global_window_.start >= kWindowS) global_window_ = Window{now_s, 0};
  if (w.used >= per_source_ || global_window_.used >= global_) {
    open_summary_window(now_s);
    ++suppressed_;
    remember(suppressed_sources_, source);
    return false;
  }
  ++w.used;
  ++global_window_.used;
  return true;
}

void EventBudget::tally(const std::string& kind, const std::string& source, const std::string& sample, double now_s) {
  open_summary_window(now_s);
  Tally& t = tallies_[kind];
  ++t.count;
  remember(t.sources, source);
  t.sample = sample;
}

std::vector<EventBudget::Row> EventBudget::due(double now_s, bool flush) {
  std::vector<Row> rows;
  if (!summary_start_ || (!flush && now_s - *summary_start_ < kWindowS)) return rows;
  const std::string span = flush ? "in the last " + std::to_string(static_cast<long long>(now_s - *summary_start_)) + " s"
                                 : "in the last minute";
  if (suppressed_ > 0)
    rows.push_back({"events_suppressed", std::to_string(suppressed_) + " event rows suppressed " + span + " from " +
                                             count_of(suppressed_sources_) + " sources (limits: " +
                                             std::to_string(per_source_) + " a minute per source, " +
                                             std::to_string(global_) + " a minute in all)"});
  for (const auto& [kind, t] : tallies_) {
    std::string what = what_of(kind);
    what.replace(what.find("%M"), 2, count_of(t.sources));
    rows.push_back({kind, std::to_string(t.count) + " " + what + " " + span + "; the last: " + t.sample});
  }
  summary_start_.reset();
  suppressed_ = 0;
  suppressed_sources_.clear();
  tallies_.clear();
  return rows;
}

}  // namespace signfed::coord
