// Bounds on event rows, so that no sender (authenticated or not) can fill the
// disk through the `events` table. Three rules:
//
//   spend(source, now)   a row from an authenticated source (a client's
//                        routing id, "full", "accept", ...) is written only
//                        within BOTH its source's budget (per_source rows a
//                        minute) and the global one (global rows a minute over
//                        all sources);
//   tally(kind, source)  an unauthenticated failure (a rejected CURVE
//                        handshake, a malformed frame from a peer that never
//                        joined) is never written one by one: it is counted;
//   due(now)             once a minute (the summary window), the rows that
//                        summarise it: one `events_suppressed` row ("N event
//                        rows suppressed ...") when spend() refused any, and one
//                        row per tallied kind ("N handshakes rejected from M
//                        keys/addresses ...").
//
// So the table grows by at most global + 1 + (kinds tallied, 4 today) rows a
// minute whatever arrives. Each summary starts with its count, so
// `CAST(detail AS INTEGER)` reads it back. Sources are remembered in maps
// cleared past 100,000 entries (memory stays bounded under a storm of fresh
// sources); distinct sources of a tally are counted up to 10,000 ("at least").
// Pure: the caller passes the (monotonic) time of the coordinator's Clock.
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace signfed::coord {

class EventBudget {
 public:
  // Window length of every budget and of the summaries, seconds.
  static constexpr double kWindowS = 60.0;

  EventBudget(std::uint32_t per_source, std::uint32_t global) : per_source_(per_source), global_(global) {}

  // Whether a row from source may be written now; a refusal is counted.
  bool spend(const std::string& source, double now_s);
  // Counts an unauthenticated failure of this kind from source; `sample` (the
  // detail of the last one) goes into the summary.
  void tally(const std::string& kind, const std::string& source, const std::string& sample, double now_s);

  struct Row {
    std::string kind, detail;
  };
  // The summary rows of a window that ended by now_s (all pending ones when
  // flush: the run ends). Empty most of the time; call it often.
  std::vector<Row> due(double now_s, bool flush = false);

  std::uint32_t per_source() const { return per_source_; }
  std::uint32_t global() const { return global_; }

 private:
  struct Window {
    double start = 0.0;
    std::uint32_t used = 0;
  };
  struct Tally {
    std::uint64_t count = 0;
    std::set<std::string> sources;  // up to kMaxTallySources
    std::string sample;
  };
  void open_summary_window(double now_s);

  std::uint32_t per_source_, global_;
  std::map<std::string, Window> windows_;  // per source
  Window global_window_;
  // The summary window: what was suppressed or tallied since summary_start_.
  std::optional<double> summary_start_;
  std::uint64_t suppressed_ = 0;
  std::set<std::string> suppressed_sources_;
  std::map<std::string, Tally> tallies_;  // by kind
};

}  // namespace signfed::coord
