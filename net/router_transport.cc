#include "net/router_transport.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>
#include <zmq_addon.hpp>

#include "net/clock.h"
#include "net/printable.h"

namespace signfed::net {

RouterTransport::RouterTransport(zmq::context_t& ctx, const RouterOptions& opt) {
  if (!opt.insecure) {
    if (opt.secret_key_file.empty() || opt.allowlist_file.empty())
      throw std::runtime_error("a secure coordinator needs --key (its secret key, from signfed-keygen) and --allow "
                               "(the client public keys); or pass --insecure for plaintext on a trusted network");
    zap_ = std::make_unique<ZapAuthenticator>(ctx, opt.allowlist_file);  // before the bind: no unauthenticated window
  }
  router_ = zmq::socket_t(ctx, zmq::socket_type::router);
  router_.set(zmq::sockopt::linger, 0);
  if (opt.max_frame_bytes > 0) router_.set(zmq::sockopt::maxmsgsize, opt.max_frame_bytes);
  router_.set(zmq::sockopt::sndhwm, 100000);
  router_.set(zmq::sockopt::rcvhwm, 100000);
  if (!opt.insecure) {
    const std::string secret = curve::read_key_file(opt.secret_key_file);
    router_.set(zmq::sockopt::curve_server, true);
    router_.set(zmq::sockopt::curve_secretkey, secret);
    router_.set(zmq::sockopt::zap_domain, "signfed");
  }
  monitor_ = std::make_unique<curve::SocketMonitor>(ctx, router_, ZMQ_EVENT_ACCEPT_FAILED);
  try {
    router_.bind(opt.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + opt.endpoint + ": " + e.what() +
                             " (is another coordinator running? choose another port with --endpoint)");
  }
}

RouterTransport::~RouterTransport() = default;

std::string RouterTransport::endpoint() const { return router_.get(zmq::sockopt::last_endpoint); }

std::string RouterTransport::describe() const {
  if (!zap_) return "PLAINTEXT (insecure): no authentication, no encryption";
  return "CURVE; allowlist " + zap_->path() + " (" + std::to_string(zap_->size()) + " keys)";
}

bool RouterTransport::poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
                           const std::function<void(const TransportEvent&)>& on_event) {
  zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                             {zap_ ? zap_->socket().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, zap_ ? 2 : 1, std::chrono::milliseconds(std::min(timeout_ms, 1000)));
  } catch (const zmq::error_t& e) {
    // A signal (SIGINT/SIGTERM) interrupted the wait: not an error. Return so
    // that the caller checks its stop token.
    if (e.num() == EINTR) return false;
    throw;
  }
  check_monitor(on_event);
  check_allowlist(on_event);
  if (zap_ && (items[1].revents & ZMQ_POLLIN)) serve_zap(on_event);
  if (!(items[0].revents & ZMQ_POLLIN)) return false;
  // Drain what is queued without blocking.
  for (int n = 0; n < 10000; ++n) {
    std::vector<zmq::message_t> parts;
    const auto got = zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) break;
    if (parts.size() != 2) {
      on_event({parts.empty() ? "?" : parts[0].to_string(), "bad_frame",
                "message with " + std::to_string(parts.size()) + " frames (expected identity + 1)"});
      continue;
    }
    const std::string peer = parts[0].to_string();
    // The CURVE key the ZAP handler admitted this connection with.
    const char* user = zap_ ? zmq_msg_gets(parts[1].handle(), "User-Id") : nullptr;
    const std::string key = user ? user : "";
    on_message({peer, {static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()}, key});
  }
  if (zap_) serve_zap(on_event);  // handshakes waiting while we drained
  return true;
}

std::size_t RouterTransport::send(const std::string& peer, std::span<const std::uint8_t> bytes) {
  if (peer.empty()) return 0;
  zmq::message_t id(peer.data(), peer.size());
  zmq::message_t body(bytes.data(), bytes.size());
  if (!router_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return 0;
  if (!router_.send(body, zmq::send_flags::dontwait)) return 0;
  return bytes.size();
}

KeyGrant RouterTransport::grant(const std::string& key) const {
  if (!zap_) return {true, {}};
  const std::string* name = zap_->find(key);
  return name ? KeyGrant{true, *name} : KeyGrant{false, {}};
}

void RouterTransport::check_allowlist(const std::function<void(const TransportEvent&)>& on_event) {
  // An edited allowlist revokes within a second, handshake or not.
  const double now = system_clock().now_s();
  if (!zap_ || now - last_allowlist_check_ < 1.0) return;
  last_allowlist_check_ = now;
  for (const std::string& key : zap_->refresh())
    on_event({key, kKeyRevoked, "key " + key + " dropped from (or re-bound in) the allowlist " + zap_->path()});
}

void RouterTransport::serve_zap(const std::function<void(const TransportEvent&)>& on_event) {
  for (int n = 0; n < 1000; ++n) {
    auto d = zap_->serve_one();
    if (!d) return;
    if (d->allowed) continue;
    // Nothing of a rejected client reaches the log but this (rate-limited) row.
    on_event({"zap:" + d->key + "@" + d->address, "auth_rejected",
              "key " + (d->key.empty() ? std::string("-") : d->key) + " from " + printable(d->address, 64) + ": " +
                  d->why});
  }
}

void RouterTransport::check_monitor(const std::function<void(const TransportEvent&)>& on_event) {
  while (auto e = monitor_->next()) {
    if (e->event != ZMQ_EVENT_ACCEPT_FAILED) continue;
    const double now = system_clock().now_s();
    if (now - last_accept_warning_ < 5.0) continue;
    last_accept_warning_ = now;
    fmt::print(stderr, "signfed-coordinator: cannot accept a connection on {}: {}{}\n", e->address,
               std::strerror(e->value),
               e->value == EMFILE || e->value == ENFILE
                   ? " -- the open-file limit is exhausted; raise it (ulimit -n) before starting the coordinator"
                   : "");
    on_event({"accept", "accept_failed", std::strerror(e->value)});
  }
}

}  // namespace signfed::net
