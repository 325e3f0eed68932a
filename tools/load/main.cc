// signfed-load: N simulated edge clients in one process, for load tests of
// signfed-coordinator; see --help.
//
// Each of the N DEALER sockets joins under its own name and answers every
// RoundTask with a valid random dense sign packet (the sign-vote methods).
// The process keeps one model replica for all of them (they all apply the
// same VoteResult) and checks every round's digest, so the coordinator sees
// N well-behaved, in-sync clients without N datasets in memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <zmq.hpp>

#include "core/codec/step.h"
#include "core/codec/packet.h"
#include "core/methods/encoder.h"
#include "core/codec/wire_packet.h"
#include "core/replica/snapshot.h"
#include "net/curve.h"
#include "core/model/model.h"
#include "schema/wire.h"

namespace {

using namespace signfed;
namespace fb = flatbuffers;

double mono_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Round {
  double first_task = 0.0;
  std::uint32_t deadline_ms = 0;
  std::uint32_t sent = 0, sent_early = 0;  // early: within half the deadline of the first task's arrival
  bool applied = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint = "tcp://127.0.0.1:5555", model_spec = "mlp", report, key, server_key, allowlist;
  std::string prefix = "load-";
  std::uint32_t n = 1000, io_threads = 2, give_up_s = 600;
  bool insecure = false;
  CLI::App app{"signfed-load: N simulated edge clients (one DEALER socket each) in one process, answering every "
               "round with random valid sign packets; for load tests of signfed-coordinator.\n"
               "Example: signfed-load --connect tcp://127.0.0.1:5555 --clients 1000 --insecure --report load.csv"};
  app.add_option("--connect", endpoint, "coordinator endpoint");
  app.add_option("--clients", n, "number of simulated clients (connections)")->check(CLI::Range(1u, 100000u));
  app.add_option("--model", model_spec, "model spec; must match the coordinator's --model");
  app.add_option("--name-prefix", prefix,
                 "client names are PREFIX + index (several signfed-load behind relays of one run need distinct ones)")
      ->capture_default_str();
  app.add_option("--report", report, "write per-round counts (round,sent,sent_early) to this CSV file");
  app.add_option("--io-threads", io_threads, "ZeroMQ I/O threads")->check(CLI::Range(1u, 64u));
  app.add_option("--give-up-after", give_up_s, "exit after this many seconds without a message");
  app.add_flag("--insecure", insecure, "PLAINTEXT transport (the coordinator must run --insecure too)");
  app.add_option("--allowlist", allowlist,
                 "CURVE: make one key pair per simulated client (one key is one board) and append each public key, "
                 "bound to its client name load-I, to this file: the coordinator's --allow, which it re-reads");
  app.add_option("--key", key, "CURVE: the secret key of a single simulated client (--clients 1; its .pub allowlisted)");
  app.add_option("--server-key", server_key, "the coordinator's CURVE public key file");
  CLI11_PARSE(app, argc, argv);
  if (!insecure && (server_key.empty() || key.empty() == allowlist.empty())) {
    fmt::print(stderr, "signfed-load: pass --server-key and either --allowlist FILE (a key per client) or --key "
                       "(one client), or --insecure\n");
    return 2;
  }
  if (!key.empty() && n > 1) {
    fmt::print(stderr, "signfed-load: one key is one board: --key serves --clients 1 only; use --allowlist FILE to "
                       "make a key per client\n");
    return 2;
  }

  // Every connection costs a TCP descriptor and a mailbox eventfd.
  const rlim_t need = static_cast<rlim_t>(n) * 2 + 64;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < need) {
    rlimit want = lim;
    want.rlim_cur = std::min(need, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &want);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < need) {
    fmt::print(stderr,
               "signfed-load: {0} clients need about {1} file descriptors but the limit is {2} (hard {3}); raise "
               "it with ulimit -n {1} (as root, or in /etc/security/limits.conf)\n",
               n, need, lim.rlim_cur, lim.rlim_max);
    return 2;
  }

  std::unique_ptr<model::Model> model;
  try {
    model = model::make_model(model_spec, 0);
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-load: {}\n", e.what());
    return 2;
  }
  const auto dim = static_cast<std::uint32_t>(model->num_params());
  auto replica = std::make_unique<core::Replica>(model->params(), codec::architecture_basis(model->spec()));
  core::SnapshotAssembler snap(dim, codec::architecture_basis(model->spec()));
  bool seeded = false;
  std::uint64_t digest = 0;

  zmq::context_t ctx(static_cast<int>(io_threads));
  ctx.set(zmq::ctxopt::max_sockets, static_cast<int>(n) + 64);
  std::vector<zmq::socket_t> socks;
  socks.reserve(n);
  const std::string pid = std::to_string(::getpid());
  try {
    // One key pair per client, allowlisted under its name before anyone connects.
    std::vector<curve::KeyPair> keys;
    if (!allowlist.empty()) {
      std::string lines;
      for (std::uint32_t i = 0; i < n; ++i) {
        keys.push_back(curve::generate());
        lines += keys.back().public_key + " " + prefix + std::to_string(i) + "\n";
      }
      std::ofstream out(allowlist, std::ios::app);
      out << lines;
      if (!out.flush()) throw std::runtime_error("cannot append to the allowlist " + allowlist);
    }
    const std::string server = insecure ? std::string() : curve::read_key_file(server_key);
    for (std::uint32_t i = 0; i < n; ++i) {
      socks.emplace_back(ctx, zmq::socket_type::dealer);
      auto& s = socks.back();
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::routing_id, prefix + std::to_string(i) + "#" + pid);
      s.set(zmq::sockopt::sndhwm, 1000);
      if (!keys.empty()) {
        s.set(zmq::sockopt::curve_serverkey, server);
        s.set(zmq::sockopt::curve_publickey, keys[i].public_key);
        s.set(zmq::sockopt::curve_secretkey, keys[i].secret_key);
      } else if (!insecure) {
        curve::make_client(s, key, server_key);
      }
      s.connect(endpoint);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "signfed-load: cannot open connection {}: {}{}\n", socks.size(), e.what(),
               zmq_errno() == EMFILE ? " (too many open files: raise ulimit -n)" : "");
    return 1;
  }
  auto send = [&](std::uint32_t i, std::span<const std::uint8_t> b) {
    (void)socks[i].send(zmq::buffer(b.data(), b.size()), zmq::send_flags::dontwait);
  };
  auto join = [&](std::uint32_t i) {
    fb::FlatBufferBuilder fbb(256);
    auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(prefix + std::to_string(i)),
                              fbb.CreateString("Linux"), fbb.CreateString("signfed-load"),
                              fbb.CreateString(model->spec()), dim, 1, fbb.CreateString("synthetic"));
    send(i, wire::finish_envelope(fbb, j));
  };
  for (std::uint32_t i = 0; i < n; ++i) join(i);
  fmt::print("signfed-load: {} clients connecting to {} ({}, {} params)\n", n, endpoint, insecure ? "plaintext" : "CURVE",
             dim);
  std::fflush(stdout);

  std::vector<std::uint32_t> client_id(n, 0);
  std::vector<bool> welcomed(n, false), done(n, false);
  std::map<std::uint32_t, Round> rounds;
  std::map<std::uint32_t, std::vector<std::uint32_t>> waiting;  // round -> sockets whose task awaits the snapshot
  bool snap_requested = false;
  std::uint64_t mismatches = 0, errors = 0, byes = 0, welcomes = 0;
  std::uint64_t rng = 0x9e3779b97f4a7c15ull;
  std::vector<std::uint8_t> bits((dim + 7) / 8);
  std::vector<zmq::pollitem_t> items(n);
  for (std::uint32_t i = 0; i < n; ++i) items[i] = {socks[i].handle(), 0, ZMQ_POLLIN, 0};
  double last_heard = mono_s(), last_beat = mono_s();

  auto answer = [&](std::uint32_t i, std::uint32_t round) {
    for (auto& b : bits) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      b = static_cast<std::uint8_t>(rng >> 24);
    }
    if (dim % 8) bits.back() &= static_cast<std::uint8_t>((1u << (dim % 8)) - 1);  // zero padding
    fb::FlatBufferBuilder fbb(bits.size() + 256);
    auto pk = wire::CreateSignPacket(fbb, wire::Encoding::dense_sign, dim, dim, 0, 1.0f, fbb.CreateVector(bits));
    send(i, wire::finish_envelope(fbb, wire::CreateUpdate(fbb, round, client_id[i], pk, 1, 1.0f, 0.0f)));
    Round& r = rounds[round];
    ++r.sent;
    if ((mono_s() - r.first_task) * 1000.0 < r.deadline_ms / 2.0) ++r.sent_early;
  };

  while (byes < n) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    const double now = mono_s();
    if (now - last_heard > give_up_s) {
      fmt::print(stderr, "signfed-load: nothing from the coordinator for {} s; giving up\n", give_up_s);
      return 1;
    }
    if (now - last_beat > 5.0) {  // keep every client alive in the coordinator's eyes
      last_beat = now;
      for (std::uint32_t i = 0; i < n; ++i) {
        if (done[i]) continue;
        if (!welcomed[i]) {
          join(i);
          continue;
        }
        fb::FlatBufferBuilder fbb(64);
        send(i, wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, client_id[i], 0, 0)));
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      while (socks[i].recv(m, zmq::recv_flags::dontwait)) {
        last_heard = mono_s();
        std::string why;
        const wire::AlignedFrame frame({static_cast<const std::uint8_t*>(m.data()), m.size()});
        const wire::Envelope* env = wire::verify_envelope(frame.bytes(), &why);
        if (!env) {
          ++errors;
          continue;
        }
        switch (env->body_type()) {
          case wire::Body::Welcome: {
            const auto* w = env->body_as_Welcome();
            client_id[i] = w->client_id();
            if (!welcomed[i]) ++welcomes;
            welcomed[i] = true;
            if (!seeded) {
              model = model::make_model(model_spec, w->seed(),
                                          w->init() == wire::Init::torch ? model::Init::torch : model::Init::he);
              replica = std::make_unique<core::Replica>(model->params(), codec::architecture_basis(model->spec()));
              digest = replica->digest();
              seeded = true;
            }
            break;
          }
          case wire::Body::RoundTask: {
            const auto* t = env->body_as_RoundTask();
            Round& r = rounds[t->round()];
            if (r.first_task == 0.0) r.first_task = mono_s(), r.deadline_ms = t->deadline_ms();
            if (!t->params() || !methods::is_vote_method(t->params()->method())) {
              fmt::print(stderr, "signfed-load: only sign-vote methods are supported (signsgd, signum, s3gd, "
                                 "randk, stochsign)\n");
              return 2;
            }
            if (t->model_digest() != digest) {
              waiting[t->round()].push_back(i);
              if (!snap_requested) {
                fb::FlatBufferBuilder fbb(64);
                send(i, wire::finish_envelope(fbb, wire::CreateSnapshotRequest(fbb, t->round(), digest)));
                snap_requested = true;
              }
              break;
            }
            answer(i, t->round());
            break;
          }
          case wire::Body::VoteResult: {
            const auto* v = env->body_as_VoteResult();
            Round& r = rounds[v->round()];
            if (r.applied || !v->packet()) break;
            r.applied = true;
            try {
              replica->apply(codec::view_of(*v->packet()), v->step_size(), v->momentum());
            } catch (const codec::CodecError& e) {
              fmt::print(stderr, "signfed-load: bad vote result: {}\n", e.what());
            }
            digest = replica->digest();
            if (digest != v->new_digest()) ++mismatches, digest = 0;  // forces a snapshot next round
            break;
          }
          case wire::Body::ModelSnapshot: {
            if (snap.offer(*env->body_as_ModelSnapshot()) != core::SnapshotAssembler::Offer::complete) break;
            snap.install_into(*replica);
            digest = replica->digest();
            snap_requested = false;
            for (auto& [round, socks_waiting] : waiting)
              for (std::uint32_t k : socks_waiting) answer(k, round);
            waiting.clear();
            break;
          }
          case wire::Body::Error: {
            const auto* e = env->body_as_Error();
            if (errors++ < 5)
              fmt::print(stderr, "signfed-load: client {}: coordinator error {}: {:.200}\n", i,
                         wire::EnumNameErrorCode(e->code()), e->text() ? e->text()->c_str() : "");
            if (e->code() == wire::ErrorCode::unknown_client) welcomed[i] = false, join(i);
            break;
          }
          case wire::Body::Bye:
            if (!done[i]) ++byes, done[i] = true;
            if (env->body_as_Bye()->final_digest() != digest) ++mismatches;
            break;
          default:
            break;
        }
      }
    }
  }
  std::uint64_t sent = 0, early = 0;
  for (const auto& [r, x] : rounds) sent += x.sent, early += x.sent_early;
  if (!report.empty()) {
    std::ofstream f(report);
    f << "round,sent,sent_early\n";
    for (const auto& [r, x] : rounds) f << r << "," << x.sent << "," << x.sent_early << "\n";
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  fmt::print("signfed-load: {} clients, {} rounds, {} updates sent ({} within half the deadline), {} digest "
             "mismatches, {} errors, peak RSS {} kB\n",
             n, rounds.size(), sent, early, mismatches, errors, u.ru_maxrss);
  return mismatches == 0 ? 0 : 1;
}
