// Sweep specs: every combination of a few signfed-sim options, one run each,
// all into one SQLite file.
//
// Format (text, one axis per line; '#' starts a comment):
//   method:    signsgd, s3gd
//   partition: iid, class1
//   gamma:     0.1, auto
//   seed:      1, 2, 3
// A key is any signfed-sim option name without the leading "--"; values are
// separated by commas. Combinations are enumerated in file order with the last
// axis varying fastest. The same syntax works inline: --sweep-axis
// "method=signsgd,s3gd" (repeatable). Pure functions; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signfed::sim {

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

using SweepPoint = std::vector<std::pair<std::string, std::string>>;  // (key, value) per axis

// Parses a spec file's text; throws std::invalid_argument naming the line.
std::vector<SweepAxis> parse_sweep(std::string_view text);
// Parses "key=v1,v2" (or "key: v1, v2"); throws std::invalid_argument.
SweepAxis parse_axis(std::string_view text);
// The cartesian product (empty axes list: one empty point).
std::vector<SweepPoint> expand(const std::vector<SweepAxis>& axes);
// "key=value key=value" for a point.
std::string point_text(const SweepPoint& p);
// A run tag without its "seed=..." item: the group a report averages over.
std::string tag_without_seed(std::string_view tag);

}  // namespace signfed::sim
