#include "coordinator/straggler.h"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace signfed::coord {

std::string StragglerPolicy::name() const {
  switch (kind) {
    case Kind::all: return "all";
    case Kind::deadline: return "deadline";
    case Kind::adaptive: {  // shortest text that parses back to the same quantile
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, quantile);
      return "adaptive:" + std::string(buf, r.ptr);
    }
    case Kind::overselect: return "overselect:" + std::to_string(extra);
  }
  return "?";
}

StragglerPolicy parse_policy(std::string_view text) {
  StragglerPolicy p;
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string arg = colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1));
  auto bad = [&] {
    return std::invalid_argument("bad --policy '" + std::string(text) +
                                 "': expected all, deadline, adaptive:Q (0<Q<=1) or overselect:E (E>=1)");
  };
  try {
    if (head == "all" && arg.empty()) p.kind = StragglerPolicy::Kind::all;
    else if (head == "deadline" && arg.empty()) p.kind = StragglerPolicy::Kind::deadline;
    else if (head == "adaptive") {
      p.kind = StragglerPolicy::Kind::adaptive;
      p.quantile = arg.empty() ? 0.9 : std::stod(arg);
      if (!(p.quantile > 0.0 && p.quantile <= 1.0)) throw bad();
    } else if (head == "overselect") {
      p.kind = StragglerPolicy::Kind::overselect;
      const long e = std::stol(arg);
      if (e < 1 || e > 100000) throw bad();
      p.extra = static_cast<std::uint32_t>(e);
    } else {
      throw bad();
    }
  } catch (const std::logic_error&) {
    throw bad();
  }
  return p;
}

void LatencyHistory::add_round(std::vector<double> latencies_ms) {
  if (latencies_ms.empty()) return;
  rounds_.push_back(std::move(latencies_ms));
  while (rounds_.size() > kHistoryRounds) rounds_.pop_front();
}

std::vector<double> LatencyHistory::all() const {
  std::vector<double> v;
  for (const auto& r : rounds_) v.insert(v.end(), r.begin(), r.end());
  return v;
}

double round_deadline_ms(const StragglerPolicy& p, const LatencyHistory& h, double timeout_ms) {
  if (p.kind != StragglerPolicy::Kind::adaptive || h.empty()) return timeout_ms;
  std::vector<double> v = h.all();
  // Nearest-rank quantile.
  const std::size_t rank = static_cast<std::size_t>(std::ceil(p.quantile * static_cast<double>(v.size())));
  const std::size_t k = std::clamp<std::size_t>(rank, 1, v.size()) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return std::min(timeout_ms, std::max(1.0, 1.2 * v[k]));
}

std::size_t updates_needed(const StragglerPolicy& p, std::size_t selected) {
  if (p.kind == StragglerPolicy::Kind::overselect) return selected > p.extra ? selected - p.extra : 1;
  return selected;
}

Admission admit_virtual(const StragglerPolicy& p, std::vector<Arrival> arrivals, std::size_t selected,
                        double deadline_ms) {
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.latency_ms < b.latency_ms; });
  Admission out;
  const std::size_t keep_max = p.kind == StragglerPolicy::Kind::overselect ? updates_needed(p, selected) : arrivals.size();
  const bool has_deadline = p.kind != StragglerPolicy::Kind::all;
  for (const Arrival& a : arrivals) {
    if (out.counted.size() < keep_max && (!has_deadline || a.latency_ms <= deadline_ms)) {
      out.counted.push_back(a.client);
      out.round_ms = a.latency_ms;
    } else {
      out.late.push_back(a.client);
    }
  }
  // The round lasts until the last counted update, or until the deadline when
  // the coordinator had to wait for someone who never made it.
  if (out.counted.size() < updates_needed(p, selected)) out.round_ms = deadline_ms;
  return out;
}

}  // namespace signfed::coord
