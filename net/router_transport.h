// The production Transport: one ZeroMQ ROUTER socket, bound at construction.
//
// Plaintext, or CURVE with a ZAP allowlist (net/zap_authenticator.h) that is
// in place before the bind, so no connection is ever unauthenticated. Frame
// size is capped by ZMQ_MAXMSGSIZE; queues by HWM; a socket monitor reports
// accept failures (fd exhaustion) as events and, at most every 5 s, on stderr.
// Thread-safety: the socket and the ZAP handler belong to the thread that
// calls poll() and send() (ZeroMQ sockets are not thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "net/curve.h"
#include "net/transport.h"
#include "net/zap_authenticator.h"

namespace signfed::net {

struct RouterOptions {
  std::string endpoint = "tcp://*:5555";
  std::int64_t max_frame_bytes = 0;   // 0: libzmq's default (no cap)
  bool insecure = true;
  std::string secret_key_file;        // CURVE: the coordinator's secret key (signfed-keygen)
  std::string allowlist_file;         // CURVE: client public keys
};

class RouterTransport final : public Transport {
 public:
  // Throws std::runtime_error (with what to do) when keys, allowlist or bind fail.
  RouterTransport(zmq::context_t& ctx, const RouterOptions& opt);
  ~RouterTransport() override;

  bool poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
            const std::function<void(const TransportEvent&)>& on_event) override;
  std::size_t send(const std::string& peer, std::span<const std::uint8_t> bytes) override;
  std::string endpoint() const override;
  std::string describe() const override;
  void linger_on_close(int ms) override { router_.set(zmq::sockopt::linger, ms); }
  KeyGrant grant(const std::string& key) const override;

 private:
  void serve_zap(const std::function<void(const TransportEvent&)>& on_event);
  void check_monitor(const std::function<void(const TransportEvent&)>& on_event);
  void check_allowlist(const std::function<void(const TransportEvent&)>& on_event);

  std::unique_ptr<ZapAuthenticator> zap_;  // nullptr when insecure
  zmq::socket_t router_;
  std::unique_ptr<curve::SocketMonitor> monitor_;
  double last_accept_warning_ = -1e9;
  double last_allowlist_check_ = -1e9;
};

}  // namespace signfed::net
