#include "edge/session.h"

#include <chrono>
#include <stdexcept>

#include "schema/wire.h"

namespace signfed::edge {


namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace

Session::Session(const SessionConfig& cfg, zmq::context_t& ctx, const Log& log, const std::atomic<bool>* stop,
                 const net::Clock& clock)
    : cfg_(cfg), log_(log), stop_(stop), clock_(clock), ctx_(ctx), endpoints_(split_list(cfg.endpoint)) {
  if (!cfg_.insecure) {
    server_keys_ = split_list(cfg_.server_key_file);
    if (server_keys_.size() != 1 && server_keys_.size() != endpoints_.size())
      throw std::invalid_argument("--server-key: give one key file, or one per --connect endpoint (in the same order)");
  }
  connect_current();
}

void Session::connect_current() {
  monitor_.reset();
  dealer_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
  const std::string& endpoint = endpoints_[current_];
  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.set(zmq::sockopt::routing_id,
              cfg_.name + "#" + std::to_string(static_cast<unsigned long long>(net::system_clock().now_s() * 1e6)));
  // No ZMQ_IMMEDIATE: with it, a dropped connection discards what was already
  // received but not yet read (the Bye after the last round, for a busy
  // client). What queues while the coordinator is away is harmless: stale
  // updates are refused as wrong_round, heartbeats trigger a rejoin.
  dealer_.set(zmq::sockopt::reconnect_ivl, 200);
  dealer_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  dealer_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
  if (!cfg_.insecure) {
    if (cfg_.curve_key_file.empty() || cfg_.server_key_file.empty())
      throw std::invalid_argument("a secure client needs --key (its secret key) and --server-key (the coordinator's "
                                  "public key); or pass --insecure for plaintext on a trusted network");
    curve::make_client(dealer_, cfg_.curve_key_file, server_keys_[server_keys_.size() == 1 ? 0 : current_]);
    monitor_ = std::make_unique<curve::SocketMonitor>(
        ctx_, dealer_,
        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
            ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  }
  dealer_.connect(endpoint);
}

void Session::fail_over() {
  const std::string& from = endpoints_[current_];
  current_ = (current_ + 1) % endpoints_.size();
  log_.say("no word from {}; failing over to {}", from, endpoints_[current_]);
  connect_current();
}

Session::~Session() = default;

void Session::send(std::span<const std::uint8_t> frame) {
  (void)dealer_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
}

void Session::send_join() {
  send(make_join_());
  last_join_ = clock_.now_s();
}

void Session::send_heartbeat() {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  send(wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, client_id_.value_or(0), last_update_round_.value_or(0), ms)));
  last_beat_ = clock_.now_s();
}

void Session::start(std::function<std::vector<std::uint8_t>()> make_join) {
  make_join_ = std::move(make_join);
  state_ = State::waiting_welcome;
  send_join();
  last_heard_ = last_beat_ = last_join_;
}

std::span<const zmq::message_t> Session::receive() {
  std::size_t n = 0;
  while (n < 4096) {
    if (n == inbox_.size()) inbox_.emplace_back();  // only when a batch is larger than every earlier one
    if (!dealer_.recv(inbox_[n], zmq::recv_flags::dontwait)) break;
    ++n;
  }
  if (n > 0) {
    last_heard_ = clock_.now_s();
    warned_silent_ = false;
  }
  return {inbox_.data(), n};
}

void Session::release() {
  for (zmq::message_t& m : inbox_) m.rebuild();  // close + init empty: frees, allocates nothing
}

void Session::welcomed(std::uint32_t client_id) {
  client_id_ = client_id;
  if (state_ != State::finished) state_ = State::joined;
}

void Session::rejoin() {
  client_id_.reset();
  if (state_ == State::finished) return;
  state_ = State::waiting_welcome;
  send_join();
}

void Session::finish(int exit_code) {
  state_ = State::finished;
  exit_code_ = exit_code;
}

bool Session::check_monitor() {
  if (!monitor_) return true;
  while (auto e = monitor_->next()) {
    if (e->event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      warned_handshake_ = false;
    } else if (e->event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      log_.error("the coordinator at {} rejected our CURVE key (status {}): add the public key from {}'s .pub file "
                 "to the coordinator's --allow file",
                 cfg_.endpoint, e->value, cfg_.curve_key_file);
      return false;
    } else if (!warned_handshake_) {
      warned_handshake_ = true;
      log_.say("CURVE handshake with {} failed ({}); is --server-key the coordinator's public key, and is the "
               "coordinator running without --insecure? retrying",
               cfg_.endpoint, e->event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "no detail");
    }
  }
  return true;
}

bool Session::tick() {
  if (state_ == State::finished) return false;
  if (stop_ && stop_->load()) {
    finish(130);
    return false;
  }
  if (!check_monitor()) {
    finish(1);
    return false;
  }
  const double t = clock_.now_s();
  if (t - last_beat_ > cfg_.heartbeat_ms / 1000.0) send_heartbeat();
  if (state_ == State::waiting_welcome && t - last_join_ > 3.0) send_join();  // not admitted yet: keep knocking
  const double silent = t - last_heard_;
  if (silent > cfg_.rejoin_after_ms / 1000.0 && t - last_join_ > cfg_.rejoin_after_ms / 1000.0) {
    if (endpoints_.size() > 1) {
      fail_over();  // the next endpoint of the --connect list (a relay died: another relay or the coordinator)
    } else {
      if (!warned_silent_) log_.say("no word from the coordinator for {:.0f} s; rejoining", silent);
      warned_silent_ = true;
    }
    rejoin();
  }
  if (silent > cfg_.give_up_after_ms / 1000.0) {
    log_.error("coordinator at {} unreachable for {:.0f} s; giving up", endpoints_[current_], silent);
    finish(1);
    return false;
  }
  return true;
}

}  // namespace signfed::edge
