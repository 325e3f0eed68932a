// A ROUTER on an inproc endpoint standing in for the coordinator in edge
// tests: receives the client's envelopes and sends it envelopes.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "schema/wire.h"

namespace signfed::edge::test {

class FakeCoordinator {
 public:
  FakeCoordinator(zmq::context_t& ctx, std::string endpoint) : router_(ctx, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind(endpoint);
  }

  // The next frame from the client within timeout_ms (remembering its routing id).
  std::optional<std::vector<std::uint8_t>> next(int timeout_ms = 2000) {
    zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, std::chrono::milliseconds(timeout_ms)) == 0) return std::nullopt;
    zmq::message_t id, body;
    if (!router_.recv(id) || !router_.recv(body)) return std::nullopt;
    peer_ = id.to_string();
    return std::vector<std::uint8_t>(static_cast<const std::uint8_t*>(body.data()),
                                     static_cast<const std::uint8_t*>(body.data()) + body.size());
  }
  // The body type of the next frame (Body::NONE if none came).
  wire::Body next_type(int timeout_ms = 2000) {
    last_ = next(timeout_ms).value_or(std::vector<std::uint8_t>{});
    frame_.emplace(last_);
    const wire::Envelope* env = last();
    return env ? env->body_type() : wire::Body::NONE;
  }
  // The envelope of the frame next_type() returned (nullptr if it was not one).
  const wire::Envelope* last() const {
    std::string why;
    return frame_ ? wire::verify_envelope(frame_->bytes(), &why) : nullptr;
  }

  void send(std::span<const std::uint8_t> frame) {
    router_.send(zmq::buffer(peer_), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(frame.data(), frame.size()));
  }

 private:
  zmq::socket_t router_;
  std::string peer_;
  std::vector<std::uint8_t> last_;
  std::optional<wire::AlignedFrame> frame_;
};

}  // namespace signfed::edge::test
