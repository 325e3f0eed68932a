#include "coordinator/suspicion.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <fmt/core.h>

namespace signfed::coord {

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

std::string SuspicionMonitor::Flag::detail() const {
  return fmt::format("mean disagreement {:.4f} over {} rounds; median {:.4f}, MAD {:.4f}, threshold {:.4f}", mean, rounds,
                     median, mad, threshold);
}

std::vector<SuspicionMonitor::Flag> SuspicionMonitor::observe(std::span<const std::uint32_t> ids,
                                                              std::span<const double> agreement) {
  assert(ids.size() == agreement.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Stats& s = stats_[ids[i]];
    s.disagree_sum += 1.0 - agreement[i];
    ++s.n;
  }
  std::vector<Flag> flags;
  if (mads_ <= 0.0) return flags;
  std::vector<double> means;
  for (const auto& [id, s] : stats_)
    if (s.n >= min_rounds_) means.push_back(s.disagree_sum / s.n);
  if (means.size() < 5) return flags;  // too few to say what "the rest" do
  const double med = median(means);
  std::vector<double> dev;
  for (double m : means) dev.push_back(std::fabs(m - med));
  const double mad = median(dev);
  const double threshold = med + mads_ * std::max(1.4826 * mad, 0.01);
  for (std::uint32_t id : ids) {
    Stats& s = stats_[id];
    if (s.flagged || s.n < min_rounds_) continue;
    const double mean = s.disagree_sum / s.n;
    if (mean <= threshold) continue;
    s.flagged = true;
    flags.push_back({id, mean, med, mad, threshold, s.n});
  }
  return flags;
}

}  // namespace signfed::coord
