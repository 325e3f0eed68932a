#include "tools/sim/sweep.h"

#include <sstream>
#include <stdexcept>

namespace signfed::sim {

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

SweepAxis parse_axis(std::string_view text) {
  const auto sep = text.find_first_of(":=");
  if (sep == std::string_view::npos)
    throw std::invalid_argument("sweep axis '" + std::string(text) + "': expected KEY: V1, V2, ...");
  SweepAxis a;
  a.key = trim(text.substr(0, sep));
  while (!a.key.empty() && a.key.front() == '-') a.key.erase(a.key.begin());
  if (a.key.empty() || a.key.find_first_of(" \t") != std::string::npos)
    throw std::invalid_argument("sweep axis '" + std::string(text) + "': bad option name");
  std::string_view rest = text.substr(sep + 1);
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    auto comma = rest.find(',', pos);
    if (comma == std::string_view::npos) comma = rest.size();
    std::string v = trim(rest.substr(pos, comma - pos));
    if (v.empty()) throw std::invalid_argument("sweep axis '" + a.key + "': empty value");
    a.values.push_back(std::move(v));
    pos = comma + 1;
  }
  return a;
}

std::vector<SweepAxis> parse_sweep(std::string_view text) {
  std::vector<SweepAxis> axes;
  std::istringstream is{std::string(text)};
  std::string line;
  int n = 0;
  while (std::getline(is, line)) {
    ++n;
    if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
    if (trim(line).empty()) continue;
    try {
      axes.push_back(parse_axis(line));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("sweep spec line " + std::to_string(n) + ": " + e.what());
    }
    for (std::size_t i = 0; i + 1 < axes.size(); ++i)
      if (axes[i].key == axes.back().key)
        throw std::invalid_argument("sweep spec line " + std::to_string(n) + ": axis '" + axes.back().key +
                                    "' given twice");
  }
  return axes;
}

std::vector<SweepPoint> expand(const std::vector<SweepAxis>& axes) {
  std::vector<SweepPoint> out(1);
  for (const SweepAxis& a : axes) {
    std::vector<SweepPoint> next;
    next.reserve(out.size() * a.values.size());
    for (const SweepPoint& p : out)
      for (const std::string& v : a.values) {
        SweepPoint q = p;
        q.emplace_back(a.key, v);
        next.push_back(std::move(q));
      }
    out = std::move(next);
  }
  return out;
}

std::string point_text(const SweepPoint& p) {
  std::string s;
  for (const auto& [k, v] : p) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

std::string tag_without_seed(std::string_view tag) {
  std::istringstream is{std::string(tag)};
  std::string item, out;
  while (is >> item)
    if (item.rfind("seed=", 0) != 0) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace signfed::sim
