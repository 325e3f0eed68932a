#include "tools/sim/fleet.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "core/data/rng.h"

namespace signfed::sim {

namespace {

double mbps_to_bytes_per_ms(double mbps) { return mbps * 1e6 / 8.0 / 1000.0; }

double lognormal(data::Rng& rng, double mu, double sigma) {
  return sigma > 0.0 || mu != 0.0 ? data::portable_exp(mu + sigma * rng.normal()) : 1.0;
}

}  // namespace

void parse_slow(std::string_view text, FleetSpec& spec) {
  const auto colon = text.find(':');
  try {
    if (colon == std::string_view::npos) throw std::invalid_argument("");
    std::size_t used = 0;
    const std::string f(text.substr(0, colon)), x(text.substr(colon + 1));
    spec.slow_fraction = std::stod(f, &used);
    if (used != f.size()) throw std::invalid_argument("");
    spec.slow_factor = std::stod(x, &used);
    if (used != x.size()) throw std::invalid_argument("");
  } catch (const std::logic_error&) {
    throw std::invalid_argument("bad --slow '" + std::string(text) + "': expected FRACTION:FACTOR, e.g. 0.1:10");
  }
  if (!(spec.slow_fraction >= 0.0 && spec.slow_fraction <= 1.0) || !(spec.slow_factor > 0.0))
    throw std::invalid_argument("bad --slow '" + std::string(text) + "': fraction in [0,1], factor > 0");
}

std::vector<ClientProfile> make_profiles(const FleetSpec& spec, std::uint32_t clients, std::uint64_t seed) {
  std::vector<ClientProfile> out(clients);
  std::vector<ClientProfile> trace;
  if (!spec.trace_path.empty()) {
    std::ifstream f(spec.trace_path);
    if (!f) throw std::runtime_error("cannot read trace file " + spec.trace_path);
    std::string line;
    while (std::getline(f, line)) {
      if (const auto h = line.find('#'); h != std::string::npos) line.resize(h);
      std::istringstream is(line);
      double ms = 0, up = 0, down = 0, lat = 0;
      if (!(is >> ms)) continue;
      if (!(is >> up >> down >> lat) || ms < 0 || up <= 0 || down <= 0 || lat < 0)
        throw std::runtime_error("trace file " + spec.trace_path +
                                 ": each line must be 'ms_per_sample up_mbps down_mbps latency_ms' (positive)");
      trace.push_back({ms, mbps_to_bytes_per_ms(up), mbps_to_bytes_per_ms(down), lat, false});
    }
    if (trace.empty()) throw std::runtime_error("trace file " + spec.trace_path + " has no data lines");
  }
  for (std::uint32_t c = 0; c < clients; ++c) {
    data::Rng rng(data::mix_seed(seed, c, 0xf1ee7));
    ClientProfile& p = out[c];
    if (!trace.empty()) {
      p = trace[c % trace.size()];
      continue;
    }
    p.ms_per_sample = spec.ms_per_sample * lognormal(rng, spec.speed_mu, spec.speed_sigma);
    const double net = lognormal(rng, 0.0, spec.net_sigma);
    p.up_bytes_per_ms = mbps_to_bytes_per_ms(spec.up_mbps) * net;
    p.down_bytes_per_ms = mbps_to_bytes_per_ms(spec.down_mbps) * net;
    p.latency_ms = spec.latency_ms;
  }
  // Exactly round(F*M) slow clients, chosen by a seeded shuffle.
  const auto n_slow = static_cast<std::uint32_t>(spec.slow_fraction * clients + 0.5);
  if (n_slow > 0) {
    std::vector<std::uint32_t> ids(clients);
    std::iota(ids.begin(), ids.end(), 0u);
    data::Rng rng(data::mix_seed(seed, 0x51038, 0));
    for (std::uint32_t i = 0; i < n_slow; ++i) std::swap(ids[i], ids[i + rng.below(clients - i)]);
    for (std::uint32_t i = 0; i < n_slow; ++i) {
      out[ids[i]].ms_per_sample *= spec.slow_factor;
      out[ids[i]].slow = true;
    }
  }
  return out;
}

double round_latency_ms(const ClientProfile& p, std::size_t samples, std::size_t up_bytes, std::size_t down_bytes) {
  return 2.0 * p.latency_ms + static_cast<double>(down_bytes) / p.down_bytes_per_ms +
         static_cast<double>(samples) * p.ms_per_sample + static_cast<double>(up_bytes) / p.up_bytes_per_ms;
}

std::vector<FaultSpec::Crash> parse_crashes(std::string_view text) {
  std::vector<FaultSpec::Crash> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string item(text.substr(pos, comma - pos));
    const auto at = item.find('@');
    try {
      if (at == std::string::npos) throw std::invalid_argument("");
      out.push_back({static_cast<std::uint32_t>(std::stoul(item.substr(0, at))),
                     static_cast<std::uint32_t>(std::stoul(item.substr(at + 1)))});
    } catch (const std::logic_error&) {
      throw std::invalid_argument("bad --crash item '" + item + "': expected CLIENT@ROUND, e.g. 3@10");
    }
    pos = comma + 1;
  }
  return out;
}

bool drops_out(double dropout, std::uint64_t seed, std::uint32_t client, std::uint32_t round) {
  if (dropout <= 0.0) return false;
  data::Rng rng(data::mix_seed(seed ^ 0xd209, client, round));
  return rng.uniform() < dropout;
}

}  // namespace signfed::sim
