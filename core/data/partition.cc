// Client partitioners. Names and parameters follow Flower Datasets / FedLab:
//   iid            shuffle, split evenly (sizes differ by at most 1)
//   class1         client m holds class m mod C; a class is split evenly among its clients
//   halves         client m holds labels of half m mod 2 (0..C/2-1 or C/2..C-1), split evenly
//   shards:c       sort by label, cut into M*c shards, deal c random shards per client (FedAvg)
//   dirichlet:a    per class, proportions ~ Dir(a) over clients (FedLab hetero_dir_partition)
//   quantity:s     IID labels, sizes proportional to lognormal(0, s) weights
// All randomness comes from Rng (rng.h), so a (labels, spec) pair gives the same
// partition on every platform.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/rng.h"

namespace signfed::data {
namespace {

using Parts = std::vector<std::vector<std::uint32_t>>;

const char* const kValidForms =
    "valid forms: iid | class1 | halves | shards:C (integer C >= 1 shards per client) | "
    "dirichlet:ALPHA (ALPHA > 0) | quantity:SIGMA (SIGMA >= 0)";

// Resampling budget for dirichlet/quantity before giving up on min_size.
constexpr int kMaxDraws = 1000;

void shuffle(std::vector<std::uint32_t>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// Appends v split into clients.size() nearly equal consecutive chunks (first
// v.size() % k chunks one longer) to parts[clients[j]].
void deal_evenly(const std::vector<std::uint32_t>& v, const std::vector<std::uint32_t>& clients, Parts& parts) {
  const std::size_t k = clients.size();
  if (k == 0) return;
  std::size_t pos = 0;
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t len = v.size() / k + (j < v.size() % k ? 1 : 0);
    auto& dst = parts[clients[j]];
    dst.insert(dst.end(), v.begin() + static_cast<std::ptrdiff_t>(pos), v.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
  }
}

// Sample indices of each class, ascending.
Parts by_class(const std::vector<std::uint8_t>& labels, std::size_t classes) {
  Parts out(classes);
  for (std::size_t i = 0; i < labels.size(); ++i) out[labels[i]].push_back(static_cast<std::uint32_t>(i));
  return out;
}

std::vector<std::uint32_t> all_indices(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint32_t>(i);
  return v;
}

std::string fmt_param(double p) {
  std::string s = std::to_string(p);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

Parts part_iid(std::size_t n, std::uint32_t m, Rng& rng) {
  std::vector<std::uint32_t> idx = all_indices(n);
  shuffle(idx, rng);
  Parts parts(m);
  deal_evenly(idx, all_indices(m), parts);
  return parts;
}

// Classes are assigned round-robin; group g of clients (g = class for class1,
// half for halves) shares its samples evenly after a shuffle.
Parts part_grouped(Parts groups, std::uint32_t m, Rng& rng) {
  Parts parts(m);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::uint32_t> clients;
    for (std::size_t c = g; c < m; c += groups.size()) clients.push_back(static_cast<std::uint32_t>(c));
    if (clients.empty()) continue;  // fewer clients than groups: these samples go unused
    shuffle(groups[g], rng);
    deal_evenly(groups[g], clients, parts);
  }
  return parts;
}

Parts part_shards(const std::vector<std::uint8_t>& labels, std::size_t classes, std::uint32_t m,
                  std::uint64_t per_client, Rng& rng) {
  const std::uint64_t num_shards = std::uint64_t{m} * per_client;
  if (num_shards > labels.size()) {
    throw DataError("shards:" + std::to_string(per_client) + " needs " + std::to_string(num_shards) +
                    " shards but there are only " + std::to_string(labels.size()) +
                    " samples — use fewer shards per client or fewer clients");
  }
  // Counting sort by label (stable: index order within a class).
  std::vector<std::uint32_t> sorted;
  sorted.reserve(labels.size());
  for (const auto& cls : by_class(labels, classes)) sorted.insert(sorted.end(), cls.begin(), cls.end());
  // Shards of nearly equal size, so every sample is used (FedAvg drops the remainder).
  Parts shards(num_shards);
  deal_evenly(sorted, all_indices(num_shards), shards);
  std::vector<std::uint32_t> order = all_indices(num_shards);
  shuffle(order, rng);
  Parts parts(m);
  for (std::size_t s = 0; s < num_shards; ++s) {
    auto& dst = parts[s / per_client];
    dst.insert(dst.end(), shards[order[s]].begin(), shards[order[s]].end());
  }
  return parts;
}

// FedLab's hetero_dir_partition (from NIID-Bench): for each class draw
// p ~ Dir(alpha); clients already holding >= N/M samples get no more (keeps
// sizes from running away); cut the shuffled class at floor(cumsum(p) * n_k).
// Redraw everything until every client has >= min_size samples.
Parts part_dirichlet(const std::vector<std::uint8_t>& labels, std::size_t classes, std::uint32_t m, double alpha,
                     std::size_t min_size, Rng& rng) {
  const std::size_t n = labels.size();
  Parts cls = by_class(labels, classes);
  // cuts[k][j]: end of client j's slice of class k.
  std::vector<std::vector<std::size_t>> cuts(classes, std::vector<std::size_t>(m));
  std::vector<std::size_t> sizes(m);
  std::vector<double> p(m);
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    std::fill(sizes.begin(), sizes.end(), 0);
    for (std::size_t k = 0; k < classes; ++k) {
      const std::size_t nk = cls[k].size();
      if (nk == 0) {
        std::fill(cuts[k].begin(), cuts[k].end(), 0);
        continue;
      }
      // Dir(alpha) via normalised Gamma draws, in log space so tiny alphas
      // cannot underflow every weight to 0. Some client is always below N/M
      // here (this class's samples are not yet handed out), so one weight is 1.
      double top = -std::numeric_limits<double>::infinity();
      for (std::uint32_t j = 0; j < m; ++j) {
        p[j] = sizes[j] * std::uint64_t{m} < n ? rng.log_gamma(alpha) : -std::numeric_limits<double>::infinity();
        top = std::max(top, p[j]);
      }
      if (top == -std::numeric_limits<double>::infinity()) std::fill(p.begin(), p.end(), top = 0.0);  // unreachable; keeps NaN out
      double sum = 0.0;
      for (std::uint32_t j = 0; j < m; ++j) sum += (p[j] = portable_exp(p[j] - top));
      double cum = 0.0;
      std::size_t prev = 0;
      for (std::uint32_t j = 0; j < m; ++j) {
        cum += p[j];
        std::size_t end = j + 1 == m ? nk : static_cast<std::size_t>(std::floor(cum / sum * static_cast<double>(nk)));
        end = std::clamp(end, prev, nk);
        sizes[j] += end - prev;
        cuts[k][j] = end;
        prev = end;
      }
    }
    if (*std::min_element(sizes.begin(), sizes.end()) < min_size) continue;
    Parts parts(m);
    for (std::size_t k = 0; k < classes; ++k) {
      shuffle(cls[k], rng);
      std::size_t prev = 0;
      for (std::uint32_t j = 0; j < m; ++j) {
        parts[j].insert(parts[j].end(), cls[k].begin() + static_cast<std::ptrdiff_t>(prev),
                        cls[k].begin() + static_cast<std::ptrdiff_t>(cuts[k][j]));
        prev = cuts[k][j];
      }
    }
    return parts;
  }
  throw DataError("dirichlet:" + fmt_param(alpha) + " could not give each of " + std::to_string(m) +
                  " clients at least " + std::to_string(min_size) + " samples in " + std::to_string(kMaxDraws) +
                  " draws — raise ALPHA, lower the minimum size or use fewer clients");
}

// FedLab's lognormal unbalance: weights w_j = exp(sigma * z_j), sizes floor(N w_j / sum w),
// leftover samples one each to the first clients. Redraw until all >= min_size.
Parts part_quantity(std::size_t n, std::uint32_t m, double sigma, std::size_t min_size, Rng& rng) {
  std::vector<double> w(m);
  std::vector<std::size_t> sizes(m);
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    // Normalise by the largest weight so huge SIGMA cannot overflow.
    for (auto& x : w) x = rng.normal();
    const double top = *std::max_element(w.begin(), w.end());
    double sum = 0.0;
    for (auto& x : w) sum += (x = portable_exp(sigma * (x - top)));
    std::size_t assigned = 0;
    for (std::uint32_t j = 0; j < m; ++j) {
      sizes[j] = std::min(n, static_cast<std::size_t>(std::floor(w[j] / sum * static_cast<double>(n))));
      assigned += sizes[j];
    }
    if (assigned > n) continue;  // rounding cannot do this, but never hand out a sample twice
    for (std::size_t j = 0; assigned < n; j = (j + 1) % m, ++assigned) ++sizes[j];
    if (*std::min_element(sizes.begin(), sizes.end()) < min_size) continue;
    std::vector<std::uint32_t> idx = all_indices(n);
    shuffle(idx, rng);
    Parts parts(m);
    std::size_t pos = 0;
    for (std::uint32_t j = 0; j < m; ++j) {
      parts[j].assign(idx.begin() + static_cast<std::ptrdiff_t>(pos), idx.begin() + static_cast<std::ptrdiff_t>(pos + sizes[j]));
      pos += sizes[j];
    }
    return parts;
  }
  throw DataError("quantity:" + fmt_param(sigma) + " could not give each of " + std::to_string(m) +
                  " clients at least " + std::to_string(min_size) + " samples in " + std::to_string(kMaxDraws) +
                  " draws — lower SIGMA, lower the minimum size or use fewer clients");
}

bool parse_double(std::string_view s, double& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size() && std::isfinite(out);
}

}  // namespace

PartitionSpec parse_partition(std::string_view text, std::uint32_t num_clients, std::uint64_t seed) {
  if (num_clients == 0) throw DataError("partition needs at least one client");
  const std::size_t colon = text.find(':');
  const std::string_view scheme = text.substr(0, colon);
  const bool has_param = colon != std::string_view::npos;
  const std::string_view arg = has_param ? text.substr(colon + 1) : std::string_view{};
  PartitionSpec spec;
  spec.scheme = std::string(scheme);
  spec.num_clients = num_clients;
  spec.seed = seed;
  auto bad = [&](const char* why) {
    return DataError("bad partition '" + std::string(text) + "': " + why + " — " + kValidForms);
  };
  if (scheme == "iid" || scheme == "class1" || scheme == "halves") {
    if (has_param) throw bad("this scheme takes no parameter");
    return spec;
  }
  if (scheme != "shards" && scheme != "dirichlet" && scheme != "quantity") throw bad("unknown scheme");
  if (!has_param || arg.empty()) throw bad("missing parameter");
  if (scheme == "shards") {
    std::uint32_t c = 0;
    const auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), c);
    if (ec != std::errc{} || ptr != arg.data() + arg.size() || c == 0) throw bad("C must be an integer >= 1");
    spec.param = c;
  } else if (!parse_double(arg, spec.param)) {
    throw bad("parameter is not a finite number");
  } else if (scheme == "dirichlet" && !(spec.param > 0.0)) {
    throw bad("ALPHA must be > 0");
  } else if (scheme == "quantity" && !(spec.param >= 0.0)) {
    throw bad("SIGMA must be >= 0");
  }
  return spec;
}

Parts partition(const std::vector<std::uint8_t>& labels, std::size_t classes, const PartitionSpec& spec) {
  const std::uint32_t m = spec.num_clients;
  if (m == 0) throw DataError("partition needs at least one client");
  if (labels.size() > UINT32_MAX) throw DataError("partition supports at most 2^32-1 samples");
  if (classes > 256) throw DataError("partition: labels are bytes, so at most 256 classes (got " + std::to_string(classes) + ")");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes) {
      throw DataError("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                      " is not below the class count " + std::to_string(classes));
    }
  }
  const std::string& s = spec.scheme;
  const std::size_t n = labels.size();
  const std::size_t min_size = std::max<std::size_t>(spec.min_size, 1);  // an empty client cannot train
  if ((s == "dirichlet" || s == "quantity") && n < std::uint64_t{m} * min_size) {
    throw DataError(s + ": " + std::to_string(n) + " samples cannot give each of " + std::to_string(m) +
                    " clients at least " + std::to_string(min_size) + " — lower the minimum size or use fewer clients");
  }
  Rng rng(spec.seed);
  Parts parts;
  if (s == "iid") {
    parts = part_iid(n, m, rng);
  } else if (s == "class1") {
    parts = part_grouped(by_class(labels, classes), m, rng);
  } else if (s == "halves") {
    if (classes < 2) throw DataError("halves needs at least 2 classes");
    Parts halves(2);
    for (std::size_t i = 0; i < n; ++i) halves[labels[i] < classes / 2 ? 0 : 1].push_back(static_cast<std::uint32_t>(i));
    parts = part_grouped(std::move(halves), m, rng);
  } else if (s == "shards") {
    if (!(spec.param >= 1.0 && spec.param <= UINT32_MAX && spec.param == std::floor(spec.param))) {
      throw DataError("shards:" + fmt_param(spec.param) + ": C must be an integer >= 1 — " + kValidForms);
    }
    parts = part_shards(labels, classes, m, static_cast<std::uint64_t>(spec.param), rng);
  } else if (s == "dirichlet") {
    if (!(spec.param > 0.0 && std::isfinite(spec.param))) throw DataError("dirichlet: ALPHA must be > 0 — " + std::string(kValidForms));
    parts = part_dirichlet(labels, classes, m, spec.param, min_size, rng);
  } else if (s == "quantity") {
    if (!(spec.param >= 0.0 && std::isfinite(spec.param))) throw DataError("quantity: SIGMA must be >= 0 — " + std::string(kValidForms));
    parts = part_quantity(n, m, spec.param, min_size, rng);
  } else {
    throw DataError("unknown partition scheme '" + s + "' — " + kValidForms);
  }
  for (std::uint32_t j = 0; j < m; ++j) {
    if (parts[j].empty()) {
      throw DataError(s + " leaves client " + std::to_string(j) + " without samples (" + std::to_string(n) +
                      " samples, " + std::to_string(m) + " clients, " + std::to_string(classes) +
                      " classes) — use fewer clients or another scheme");
    }
    std::sort(parts[j].begin(), parts[j].end());
  }
  return parts;
}

std::string describe_partition(const Parts& parts, const std::vector<std::uint8_t>& labels, std::size_t classes) {
  std::string out;
  std::vector<std::size_t> counts(classes);
  for (std::size_t j = 0; j < parts.size(); ++j) {
    std::fill(counts.begin(), counts.end(), 0);
    for (const std::uint32_t i : parts[j]) {
      if (i >= labels.size() || labels[i] >= classes) throw DataError("describe_partition: sample index or label out of range");
      ++counts[labels[i]];
    }
    out += "client " + std::to_string(j) + ": " + std::to_string(parts[j].size()) + " samples, classes {";
    bool first = true;
    for (std::size_t k = 0; k < classes; ++k) {
      if (counts[k] == 0) continue;
      if (!first) out += ' ';
      out += std::to_string(k) + ':' + std::to_string(counts[k]);
      first = false;
    }
    out += "}\n";
  }
  return out;
}

}  // namespace signfed::data
