// Simulated devices: each client's compute speed, network and faults, and the
// simulated latency of one round that the client reports under --virtual-time.
//
// Latency model (ms) of one round for client c, sent through the EdgeClient
// hook virtual_latency_ms:
//   2 * latency_ms                         (task down, update up)
//   + down_bytes / down_bytes_per_ms       (the vote result of the previous round)
//   + samples * ms_per_sample              (local gradient computation)
//   + up_bytes / up_bytes_per_ms           (the encoded update)
// Profiles are drawn once per run, deterministically from (spec, clients, seed)
// with data/rng.h. Pure functions; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace signfed::sim {

struct ClientProfile {
  double ms_per_sample = 0.05;
  double up_bytes_per_ms = 1250.0;    // 10 Mbit/s
  double down_bytes_per_ms = 6250.0;  // 50 Mbit/s
  double latency_ms = 20.0;           // one way
  bool slow = false;                  // picked by the slow-fraction shortcut
};

struct FleetSpec {
  double ms_per_sample = 0.05;  // median compute time per training sample
  double speed_sigma = 0.0;     // compute factor ~ lognormal(speed_mu, speed_sigma)
  double speed_mu = 0.0;
  double slow_fraction = 0.0;   // --slow F:X: exactly round(F*M) clients X times slower
  double slow_factor = 1.0;
  double up_mbps = 10.0, down_mbps = 50.0, latency_ms = 20.0;
  double net_sigma = 0.0;       // bandwidth factor ~ lognormal(0, net_sigma), per client
  std::string trace_path;       // lines "ms_per_sample up_mbps down_mbps latency_ms"; client i uses line i mod n
};

// Parses "F:X" (e.g. "0.1:10"); throws std::invalid_argument.
void parse_slow(std::string_view text, FleetSpec& spec);

// One profile per client. Throws std::runtime_error for an unreadable or empty trace.
std::vector<ClientProfile> make_profiles(const FleetSpec& spec, std::uint32_t clients, std::uint64_t seed);

// Bytes of one envelope around a packet (FlatBuffers header, ids, scalars):
// added to payload sizes in the latency model.
inline constexpr std::size_t kEnvelopeBytes = 96;

double round_latency_ms(const ClientProfile& p, std::size_t samples, std::size_t up_bytes, std::size_t down_bytes);

// Per-round dropout and crash schedule.
struct FaultSpec {
  double dropout = 0.0;         // probability a client silently skips a round
  struct Crash {
    std::uint32_t client = 0;
    std::uint32_t after_round = 0;  // destroyed once it applied this many rounds, then re-created
  };
  std::vector<Crash> crashes;
};

// Parses "3@10,7@25" (client@rounds-applied); throws std::invalid_argument.
std::vector<FaultSpec::Crash> parse_crashes(std::string_view text);

// Seeded Bernoulli(dropout) draw for (client, round).
bool drops_out(double dropout, std::uint64_t seed, std::uint32_t client, std::uint32_t round);

}  // namespace signfed::sim
