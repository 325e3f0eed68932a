// Soak (issue 11 item 7): a hostile mix for a bounded time against a running
// CURVE federation (4 honest signfed-edge processes, signSGD, IID
// Fashion-MNIST), the coordinator's VmRSS sampled every 0.5 s. Six attacks run
// from threads of this process on raw cppzmq sockets (and raw TCP), started
// one after another over the first quarter of the attack window, then all
// together until its end:
//   sybil      one allowlisted key joining under ever new names
//   churn      connect / Join / close cycles of allowlisted keys
//   nonread    allowlisted peers that Join and never read again
//   multipart  messages of 1000 parts, from a joined and a never-joined peer
//   garbage    CURVE handshakes with fresh (unlisted) keys, plaintext
//              handshakes, random bytes on raw TCP
//   liar       an honest-looking joined client: one abstaining update per
//              round, then duplicates and wrong-round updates
// The liar joins with the honest boards and paces the run: the coordinator
// closes a round at 5 counted updates (--min-clients 5: 4 honest + the liar),
// and the liar answers each task no earlier than --round-ms after it arrived,
// so the run lasts the soak whatever the machine's speed. Its update abstains
// on every coordinate, so it changes no vote: the attacked run must end with
// the clean run's model (same digest, same accuracy), run in the same test.
//
// Asserted: coordinator RSS stays under baseline (end of warm-up) + margin;
// no steady growth (mean of the window's last quarter vs its second quarter);
// the events table within the global budget (64 rows per budget window); the
// honest run completes, accuracy within 2 points of the clean run.
//
// Environment (tools/bench/soak.py sets them for the long run):
//   SIGNFED_SOAK_SECONDS  attack window (default 40)
//   SIGNFED_SOAK_OUT      directory for soak_rss.csv, soak_phases.csv and
//                         soak_summary.json (default: the test's temp dir)
//   SIGNFED_SOAK_ATTACKS  comma list of the attacks above (default: all)
//   SIGNFED_SOAK_SCALE    multiplies every attack's rate (default 1)
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/codec/packet.h"
#include "net/curve.h"
#include "schema/wire.h"
#include "tests/e2e/federation.h"
#include "tests/support/wire_messages.h"

using namespace signfed;
using namespace signfed::test;

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char* kModelSpec = "mlp:784-128-10";  // the coordinator's default model
constexpr std::uint32_t kNumParams = 101770;
constexpr double kMiB = 1024.0;  // kB per MiB (VmRSS is in kB)

// RSS margin over the warm-up baseline, MiB. What the coordinator may
// legitimately hold for this mix beyond the honest run: ZeroMQ buffers of the
// ~20 connections open at once (8 KiB in/out batches, CURVE state; well under
// 1 MiB), the per-source event budget maps (at most 100,000 windows of ~100 B,
// 10 MiB, cleared beyond that), the tally sets (10,000 sources x 3 kinds, ~3
// MiB), SQLite's page cache (2 MiB by default), one snapshot (0.4 MiB) in
// flight per joining identity, and malloc arena slack of the transport's
// threads. 32 MiB covers that with room; an outbound queue that grows with the
// rounds (a peer that never reads gets every VoteResult, 12.7 kB each) does not
// fit in it for long.
constexpr double kMarginMiB = 32.0;
// Steady growth: the mean RSS of the window's last quarter may exceed the mean
// of its second quarter by at most this: allocator noise, SQLite's cache
// filling, and the per-source event maps and tally sets (above) still filling
// with fresh attacker sources towards their caps in a 40 s window (measured
// after the transport bounds: +5.7 MiB). An unbounded queue grows ~1.2 MiB/s.
constexpr double kGrowthToleranceMiB = 8.0;

double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stod(v) : fallback;
}
std::string env_text(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

struct Settings {
  double attack_s = 40;    // the attack window
  double warmup_s = 6;     // honest run (with the liar behaving) before the first attack
  double tail_s = 4;       // honest run after the attacks stop
  double round_ms = 50;    // the liar's pacing: at most 20 rounds a second
  double scale = 1;        // attack rates
  std::set<std::string> attacks = {"sybil", "churn", "nonread", "multipart", "garbage", "liar"};
  std::string out;         // output directory ("" = the federation's temp dir)
};

Settings settings() {
  Settings s;
  s.attack_s = env_number("SIGNFED_SOAK_SECONDS", s.attack_s);
  s.scale = env_number("SIGNFED_SOAK_SCALE", s.scale);
  s.out = env_text("SIGNFED_SOAK_OUT", "");
  if (const std::string a = env_text("SIGNFED_SOAK_ATTACKS", ""); !a.empty() && a != "all") {
    s.attacks.clear();
    std::stringstream in(a);
    for (std::string w; std::getline(in, w, ',');) s.attacks.insert(w);
  }
  return s;
}

// Rounds the honest run needs to outlast the soak: the liar makes every round
// last at least round_ms, so R rounds take at least R x round_ms.
std::uint32_t rounds_for(const Settings& s) {
  const double lead_s = 2.0;  // rounds before the warm-up clock starts (see below: 20 rounds at 50 ms = 1 s)
  return static_cast<std::uint32_t>(std::ceil((lead_s + s.warmup_s + s.attack_s + s.tail_s) * 1000.0 / s.round_ms));
}

std::vector<std::string> coordinator_args(std::uint32_t rounds) {
  // lr/batch as in the Byzantine test; the final round is evaluated.
  return {"--rounds", std::to_string(rounds), "--method", "signsgd", "--lr", "0.001", "--batch", "64",
          "--eval-every", std::to_string(rounds), "--round-timeout", "20000", "--min-clients", "5", "--quiet"};
}

long vm_rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;  // the process is gone
}

// Sleeps until t in slices, returning false early if stop was requested.
bool pace_until(std::stop_token st, SteadyClock::time_point t) {
  while (!st.stop_requested()) {
    const auto now = SteadyClock::now();
    if (now >= t) return true;
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(t - now, std::chrono::milliseconds(50)));
  }
  return false;
}

// Calls step() `per_s` times a second until stop.
void at_rate(std::stop_token st, double per_s, const std::function<void()>& step) {
  const auto period = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(1.0 / per_s));
  auto next = SteadyClock::now();
  while (pace_until(st, next)) {
    step();
    next += period;
    if (SteadyClock::now() - next > std::chrono::seconds(1)) next = SteadyClock::now();  // fell behind: no burst
  }
}

struct Counters {
  std::atomic<long> sybil_joins{0}, sybil_welcomes{0}, sybil_refusals{0};
  std::atomic<long> churn_cycles{0}, churn_welcomes{0};
  std::atomic<long> nonread_peers{0};
  std::atomic<long> multipart_msgs{0};
  std::atomic<long> fresh_keys{0}, plaintext{0}, tcp_garbage{0};
  std::atomic<long> liar_updates{0}, liar_bad_updates{0}, liar_refusals{0};
};

// The attackers: threads with their own sockets on one ZeroMQ context.
class Attackers {
 public:
  Attackers(const Federation& f, const Settings& s) : f_(f), s_(s), server_pub_(curve::read_key_file(f.dir.path + "/coordinator.pub")) {
    port_ = std::stoi(f.endpoint.substr(f.endpoint.rfind(':') + 1));
  }
  ~Attackers() { stop_all(); }

  // Key pairs of the allowlisted attackers, appended to the allowlist
  // before the coordinator starts. The Sybil key is listed without a name
  // (bound to the first it joins with); the others are bound to theirs.
  static void make_keys(Federation& f) {
    std::ofstream allow(f.dir.path + "/clients.allow", std::ios::app);
    auto add = [&](const std::string& stem, bool named) {
      const curve::KeyPair k = curve::generate();
      curve::write_key_pair(f.dir.path + "/" + stem, k, true);
      allow << k.public_key << (named ? "  " + stem : "") << "\n";
    };
    add("sybil", false);
    for (const auto* n : {"churn-0", "churn-1", "churn-2", "churn-3", "flood-0", "flood-1", "liar"}) add(n, true);
    for (int i = 0; i < kMaxNonReaders; ++i) add("nonread-" + std::to_string(i), true);
  }

  void start(const std::string& attack) {
    using F = void (Attackers::*)(std::stop_token);
    static const std::map<std::string, F> body = {
        {"sybil", &Attackers::sybil},       {"churn", &Attackers::churn},     {"nonread", &Attackers::nonread},
        {"multipart", &Attackers::multipart}, {"garbage", &Attackers::garbage}};
    if (attack == "liar") {
      misbehave_ = true;  // the liar thread runs from the start
      return;
    }
    threads_.emplace_back([this, f = body.at(attack)](std::stop_token st) { (this->*f)(st); });
  }
  void start_liar() {
    threads_.emplace_back([this](std::stop_token st) { liar(st); });
  }
  void stop_attacks() { misbehave_ = false; for (std::size_t i = 1; i < threads_.size(); ++i) threads_[i].request_stop(); }
  void stop_all() {
    for (auto& t : threads_) t.request_stop();
    threads_.clear();  // joins
  }
  bool liar_joined() const { return liar_id_ >= 0; }
  Counters& counts() { return n_; }

  static constexpr int kMaxNonReaders = 16;

 private:
  zmq::socket_t dealer(const std::string& stem) {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    curve::make_client(s, f_.dir.path + "/" + stem + ".key", f_.dir.path + "/coordinator.pub");
    s.connect(f_.endpoint);
    return s;
  }
  static bool send(zmq::socket_t& s, const Bytes& b) {
    return s.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::dontwait).has_value();
  }
  // Reads what is queued; calls on(envelope) for each verified message.
  template <class On>
  static int drain(zmq::socket_t& s, On on, int wait_ms = 0) {
    int got = 0;
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, std::chrono::milliseconds(got == 0 ? wait_ms : 0)) > 0) {
      zmq::message_t m;
      if (!s.recv(m, zmq::recv_flags::dontwait)) break;
      ++got;
      const wire::AlignedFrame a({static_cast<const std::uint8_t*>(m.data()), m.size()});
      if (const wire::Envelope* e = wire::verify_envelope(a.bytes(), nullptr)) on(*e);
    }
    return got;
  }
  static bool is_error(const wire::Envelope& e) { return e.body_type() == wire::Body::Error; }

  // (1) One allowlisted key, ever new names, 50 Joins a second; a new
  // connection every 50 Joins.
  void sybil(std::stop_token st) {
    std::optional<zmq::socket_t> s;
    long n = 0;
    at_rate(st, 50 * s_.scale, [&] {
      if (n % 50 == 0) s.emplace(dealer("sybil"));
      send(*s, join_message("sybil-" + std::to_string(n++), kModelSpec, kNumParams, "soak"));
      ++n_.sybil_joins;
      drain(*s, [&](const wire::Envelope& e) {
        if (e.body_type() == wire::Body::Welcome) ++n_.sybil_welcomes;
        if (is_error(e)) ++n_.sybil_refusals;
      });
    });
  }

  // (2) Connect, Join, wait up to 0.5 s for the answer, close: 20 cycles a
  // second over 4 keys.
  void churn(std::stop_token st) {
    long n = 0;
    at_rate(st, 20 * s_.scale, [&] {
      const std::string name = "churn-" + std::to_string(n++ % 4);
      zmq::socket_t s = dealer(name);
      send(s, join_message(name, kModelSpec, kNumParams, "soak"));
      drain(s, [&](const wire::Envelope& e) { if (e.body_type() == wire::Body::Welcome) ++n_.churn_welcomes; }, 500);
      ++n_.churn_cycles;
    });
  }

  // (3) 4 peers Join and never read again (receive buffers made small so
  // that little of what they are sent is taken off the coordinator).
  void nonread(std::stop_token st) {
    const int peers = std::clamp(static_cast<int>(std::lround(4 * s_.scale)), 1, kMaxNonReaders);
    std::vector<zmq::socket_t> held;
    for (int i = 0; i < peers; ++i) {
      zmq::socket_t s(ctx_, zmq::socket_type::dealer);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::rcvhwm, 1);
      s.set(zmq::sockopt::rcvbuf, 4096);
      const std::string stem = "nonread-" + std::to_string(i);
      curve::make_client(s, f_.dir.path + "/" + stem + ".key", f_.dir.path + "/coordinator.pub");
      s.connect(f_.endpoint);
      send(s, join_message(stem, kModelSpec, kNumParams, "soak"));
      held.push_back(std::move(s));
      ++n_.nonread_peers;
    }
    pace_until(st, SteadyClock::time_point::max());
  }

  // (4) Messages of 1000 parts (16 bytes each; the coordinator expects
  // identity + 1): 10 a second, alternating between a joined peer and one
  // that never joined.
  void multipart(std::stop_token st) {
    zmq::socket_t joined = dealer("flood-0"), stranger = dealer("flood-1");
    send(joined, join_message("flood-0", kModelSpec, kNumParams, "soak"));
    const std::string part(16, 'x');
    long n = 0;
    at_rate(st, 10 * s_.scale, [&] {
      zmq::socket_t& s = n++ % 2 ? stranger : joined;
      for (int i = 0; i < 999; ++i) (void)s.send(zmq::buffer(part), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)s.send(zmq::buffer(part), zmq::send_flags::dontwait);
      ++n_.multipart_msgs;
      drain(joined, [](const wire::Envelope&) {});
      drain(stranger, [](const wire::Envelope&) {});
    });
  }

  // (5) Every 50 ms: a CURVE handshake with a fresh key pair (not listed), a
  // plaintext DEALER on the CURVE port, random bytes on a raw TCP connection.
  void garbage(std::stop_token st) {
    std::mt19937_64 rng(7);
    std::vector<zmq::socket_t> recent;  // closed a few cycles later, so the handshakes happen
    at_rate(st, 20 * s_.scale, [&] {
      const curve::KeyPair k = curve::generate();
      zmq::socket_t s(ctx_, zmq::socket_type::dealer);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::curve_serverkey, server_pub_);
      s.set(zmq::sockopt::curve_publickey, k.public_key);
      s.set(zmq::sockopt::curve_secretkey, k.secret_key);
      s.connect(f_.endpoint);
      send(s, join_message("stranger", kModelSpec, kNumParams, "soak"));
      recent.push_back(std::move(s));
      ++n_.fresh_keys;
      if (rng() % 4 == 0) {
        zmq::socket_t p(ctx_, zmq::socket_type::dealer);
        p.set(zmq::sockopt::linger, 0);
        p.connect(f_.endpoint);
        send(p, join_message("plain", kModelSpec, kNumParams, "soak"));
        recent.push_back(std::move(p));
        ++n_.plaintext;
      }
      if (recent.size() > 20) recent.erase(recent.begin(), recent.begin() + 10);
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port_));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        std::vector<std::uint64_t> junk(64 + rng() % 448);
        for (auto& w : junk) w = rng();
        (void)!::send(fd, junk.data(), junk.size() * 8, MSG_NOSIGNAL | MSG_DONTWAIT);
        ++n_.tcp_garbage;
      }
      if (fd >= 0) ::close(fd);
    });
  }

  // (6) An honest-looking joined client: it answers each RoundTask with an
  // update that abstains on every coordinate (counted, moves no vote), no
  // earlier than round_ms after the task came; while misbehaving, it then
  // sends the same update 4 more times and 4 updates for other rounds.
  void liar(std::stop_token st) {
    zmq::socket_t s = dealer("liar");
    send(s, join_message("liar", kModelSpec, kNumParams, "soak"));
    const codec::SignPacket abstain = codec::encode_ternary_best(codec::TernarySigns::zeros(kNumParams));
    std::map<std::uint32_t, SteadyClock::time_point> due;  // round -> when to answer
    const auto hold = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s_.round_ms / 1000.0));
    while (!st.stop_requested()) {
      drain(s, [&](const wire::Envelope& e) {
        if (e.body_type() == wire::Body::Welcome) liar_id_ = e.body_as_Welcome()->client_id();
        if (e.body_type() == wire::Body::RoundTask) due[e.body_as_RoundTask()->round()] = SteadyClock::now() + hold;
        if (is_error(e)) ++n_.liar_refusals;
      }, 5);
      while (!due.empty() && due.begin()->second <= SteadyClock::now() && liar_id_ >= 0) {
        const std::uint32_t r = due.begin()->first;
        due.erase(due.begin());
        const auto id = static_cast<std::uint32_t>(liar_id_.load());
        const Bytes u = update_message(r, id, abstain);
        send(s, u);
        ++n_.liar_updates;
        if (!misbehave_) continue;
        const int k = std::max(1, static_cast<int>(std::lround(4 * s_.scale)));
        for (int i = 0; i < k; ++i) {
          send(s, u);                                                            // duplicate
          send(s, update_message(i % 2 ? r + 1 + i : (r > 0 ? r - 1 : r + 7), id, abstain));  // wrong round
          n_.liar_bad_updates += 2;
        }
      }
    }
  }

  const Federation& f_;
  Settings s_;
  std::string server_pub_;
  int port_ = 0;
  zmq::context_t ctx_{2};
  std::atomic<bool> misbehave_{false};
  std::atomic<long> liar_id_{-1};
  Counters n_;
  std::vector<std::jthread> threads_;  // [0]: the liar
};

struct Sample {
  double t_s;
  long rss_kb;
};

// Samples the coordinator's VmRSS every 0.5 s (t relative to t0) until stopped
// or the process is gone.
class RssSampler {
 public:
  RssSampler(pid_t pid, SteadyClock::time_point t0)
      : thread_([this, pid, t0](std::stop_token st) {
          auto next = SteadyClock::now();
          while (pace_until(st, next)) {
            const long kb = vm_rss_kb(pid);
            if (kb < 0) return;
            {
              std::lock_guard lock(mu_);
              samples_.push_back({std::chrono::duration<double>(SteadyClock::now() - t0).count(), kb});
            }
            next += std::chrono::milliseconds(500);
          }
        }) {}
  std::vector<Sample> samples() {
    std::lock_guard lock(mu_);
    return samples_;
  }
  void stop() { thread_.request_stop(); thread_.join(); }

 private:
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::jthread thread_;
};

double mean_rss_mib(const std::vector<Sample>& v, double from_s, double to_s) {
  double sum = 0;
  int n = 0;
  for (const Sample& s : v)
    if (s.t_s >= from_s && s.t_s < to_s) sum += s.rss_kb, ++n;
  return n ? sum / n / kMiB : -1;
}
double max_rss_mib(const std::vector<Sample>& v, double from_s, double to_s) {
  long m = -1;
  for (const Sample& s : v)
    if (s.t_s >= from_s && s.t_s < to_s) m = std::max(m, s.rss_kb);
  return m / kMiB;
}

double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

struct RunResult {
  double accuracy = -1;
  std::string digest;
  double seconds = 0;
};

RunResult final_of(const Federation& f) {
  RunResult r;
  r.accuracy = query_number(f.db, "SELECT test_accuracy FROM rounds ORDER BY round DESC LIMIT 1");
  r.digest = query_text(f.db, "SELECT model_digest FROM rounds ORDER BY round DESC LIMIT 1");
  return r;
}

}  // namespace

TEST_CASE("soak: a hostile mix against a CURVE federation - coordinator RSS bounded, event rows bounded, accuracy kept") {
  const Settings s = settings();
  const std::uint32_t rounds = rounds_for(s);

  // The clean run: the same federation and flags, no attacker (the liar
  // abstains, so it is left out too: it changes no vote).
  RunResult clean;
  {
    Federation f;
    f.make_keys(4, 4);
    const auto t = SteadyClock::now();
    f.start_coordinator(4, coordinator_args(rounds));
    f.start_edges(4, {"--partition", "iid"});  // not --quiet: check_edges_final_model reads the digest line
    f.require_coordinator_success(600);
    f.check_edges_final_model(4);
    clean = final_of(f);
    clean.seconds = seconds_since(t);
  }
  MESSAGE(fmt::format("clean run: {} rounds in {:.1f} s, accuracy {:.4f}, digest {}", rounds, clean.seconds,
                      clean.accuracy, clean.digest));

  // The attacked run.
  Federation f;
  f.make_keys(4, 4);
  Attackers::make_keys(f);
  const auto t0 = SteadyClock::now();
  f.start_coordinator(5, coordinator_args(rounds));  // 4 honest boards + the liar
  RssSampler rss(f.coordinator->pid(), t0);
  Attackers attack(f, s);
  attack.start_liar();
  f.start_edges(4, {"--partition", "iid"});  // not --quiet: check_edges_final_model reads the digest line
  const std::string out = s.out.empty() ? f.dir.path : s.out;
  std::vector<std::pair<double, std::string>> phases;
  REQUIRE(wait_until(120, [&] { return attack.liar_joined(); }));
  // Warm-up: the honest run (the liar behaving) from round 20 for warmup_s.
  REQUIRE(wait_until(120, [&] { return query_number(f.db, "SELECT COUNT(*) FROM rounds") >= 20; }));
  const double warm_from = seconds_since(t0);
  phases.emplace_back(warm_from, "warm-up");
  std::this_thread::sleep_for(std::chrono::duration<double>(s.warmup_s));  // a phase of the schedule, not a wait for an outcome
  const double a0 = seconds_since(t0), a1 = a0 + s.attack_s;
  // Attacks start one by one over the first quarter of the window.
  const std::vector<std::string> order = {"sybil", "churn", "nonread", "multipart", "garbage", "liar"};
  int k = 0;
  for (const std::string& name : order) {
    if (!s.attacks.count(name)) continue;
    const double at = a0 + k++ * (s.attack_s / 4) / 6;
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(at)));
    attack.start(name);
    phases.emplace_back(seconds_since(t0), name);
  }
  std::this_thread::sleep_until(t0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(a1)));
  REQUIRE_MESSAGE(f.coordinator->running(), "the honest run ended before the attack window did: raise rounds_for()");
  attack.stop_attacks();
  phases.emplace_back(seconds_since(t0), "attacks stopped");
  const int rc = f.coordinator->wait(600);
  const double end_s = seconds_since(t0);
  phases.emplace_back(end_s, "run completed");
  attack.stop_all();
  rss.stop();
  INFO(f.coordinator->output());
  REQUIRE(rc == 0);
  f.check_edges_final_model(4);
  RunResult attacked = final_of(f);
  attacked.seconds = end_s;

  // RSS.
  const std::vector<Sample> v = rss.samples();
  const double baseline = mean_rss_mib(v, warm_from + s.warmup_s / 2, a0);
  const double bound = baseline + kMarginMiB;
  const double peak = max_rss_mib(v, a0, end_s + 1);  // from the first attack to the end of the run
  const double q = s.attack_s / 4;
  const double q2 = mean_rss_mib(v, a0 + q, a0 + 2 * q), q4 = mean_rss_mib(v, a0 + 3 * q, a1);
  // Events: the budgets allow 60 rows per global window plus 4 summary rows
  // (events_suppressed and the 3 tallied kinds) per summary window; windows
  // last 60 s and start with their first row, so a run of D s sees at most
  // floor(D/60)+1 of each. Not budgeted: the 'transport' row and suspect flags.
  const double run_s = query_number(f.db, "SELECT MAX(t) - MIN(t) FROM events");
  const double events = query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind NOT IN ('transport', 'suspect_client')");
  const double windows = std::floor(std::max(run_s, 0.0) / 60.0) + 1;
  const double event_bound = 64 * windows;
  const double suppressed = query_number(f.db, "SELECT COALESCE(SUM(CAST(detail AS INTEGER)), 0) FROM events WHERE kind IN ('events_suppressed', 'auth_rejected', 'bad_message', 'bad_frame')");
  Counters& n = attack.counts();

  std::FILE* csv = std::fopen((out + "/soak_rss.csv").c_str(), "w");
  REQUIRE(csv);
  fmt::print(csv, "t_s,rss_kb\n");
  for (const Sample& x : v) fmt::print(csv, "{:.2f},{}\n", x.t_s, x.rss_kb);
  std::fclose(csv);
  std::FILE* ph = std::fopen((out + "/soak_phases.csv").c_str(), "w");
  fmt::print(ph, "t_s,phase\n");
  for (const auto& [t, p] : phases) fmt::print(ph, "{:.2f},{}\n", t, p);
  std::fclose(ph);
  const std::string summary = fmt::format(
      R"({{"attack_s": {:.1f}, "scale": {}, "rounds": {}, "baseline_mib": {:.1f}, "margin_mib": {}, "bound_mib": {:.1f}, )"
      R"("peak_mib": {:.1f}, "q2_mib": {:.1f}, "q4_mib": {:.1f}, "growth_tolerance_mib": {}, "attack_from_s": {:.2f}, )"
      R"("attack_to_s": {:.2f}, "events": {}, "event_bound": {}, "event_rows_all": {}, "summarised": {}, )"
      R"("accuracy_clean": {:.4f}, "accuracy_attacked": {:.4f}, "digest_clean": "{}", "digest_attacked": "{}", )"
      R"("clean_s": {:.1f}, "attacked_s": {:.1f}, "sybil_joins": {}, "sybil_refusals": {}, "churn_cycles": {}, )"
      R"("churn_welcomes": {}, "nonread_peers": {}, "multipart_msgs": {}, "fresh_keys": {}, "plaintext": {}, )"
      R"("tcp_garbage": {}, "liar_updates": {}, "liar_bad_updates": {}, "liar_refusals": {}}})",
      s.attack_s, s.scale, rounds, baseline, kMarginMiB, bound, peak, q2, q4, kGrowthToleranceMiB, a0, a1, events,
      event_bound, query_number(f.db, "SELECT COUNT(*) FROM events"), suppressed, clean.accuracy, attacked.accuracy,
      clean.digest, attacked.digest, clean.seconds, attacked.seconds, n.sybil_joins.load(), n.sybil_refusals.load(),
      n.churn_cycles.load(), n.churn_welcomes.load(), n.nonread_peers.load(), n.multipart_msgs.load(),
      n.fresh_keys.load(), n.plaintext.load(), n.tcp_garbage.load(), n.liar_updates.load(), n.liar_bad_updates.load(),
      n.liar_refusals.load());
  std::ofstream(out + "/soak_summary.json") << summary << "\n";
  MESSAGE(summary);
  MESSAGE(fmt::format("coordinator RSS: baseline {:.1f} MiB, bound {:.1f} MiB, peak {:.1f} MiB; second quarter {:.1f}, "
                      "last quarter {:.1f} MiB; events {} (bound {}); accuracy clean {:.4f} attacked {:.4f}",
                      baseline, bound, peak, q2, q4, events, event_bound, clean.accuracy, attacked.accuracy));

  // The attacks happened and were refused.
  if (s.attacks.count("sybil")) CHECK(n.sybil_refusals > 0);
  if (s.attacks.count("churn")) CHECK(n.churn_welcomes > 0);
  if (s.attacks.count("liar")) CHECK(n.liar_refusals > 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients WHERE name LIKE 'sybil-%'") <= 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients WHERE name IN ('stranger', 'plain')") == 0);
  // What the issue asks.
  REQUIRE(baseline > 0);
  CHECK(peak < bound);
  CHECK(q4 <= q2 + kGrowthToleranceMiB);
  CHECK(events <= event_bound);
  CHECK(attacked.accuracy >= clean.accuracy - 0.02);
  CHECK(attacked.accuracy <= clean.accuracy + 0.02);
  // Stronger, and why the above holds: the liar abstains and the quorum is
  // the 4 honest updates + the liar's, so every vote is the clean run's.
  CHECK(attacked.digest == clean.digest);
}
