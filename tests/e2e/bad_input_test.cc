// A hostile client on a raw DEALER socket: every bad message gets an Error
// reply and a log row, the round goes on, and the coordinator does not crash.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <zmq.hpp>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "tests/e2e/federation.h"
#include "schema/wire.h"

using namespace signfed;
using namespace signfed::test;
namespace fb = flatbuffers;

namespace {

class RawClient {
 public:
  RawClient(zmq::context_t& ctx, const std::string& endpoint) : s_(ctx, zmq::socket_type::dealer) {
    s_.set(zmq::sockopt::linger, 0);
    s_.connect(endpoint);
  }
  void send(std::span<const std::uint8_t> b) { s_.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::none); }
  // Next message of the given body type within timeout; verified.
  std::optional<std::vector<std::uint8_t>> next(wire::Body want, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      zmq::pollitem_t it[] = {{s_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(it, 1, std::chrono::milliseconds(50));
      if (!(it[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      (void)s_.recv(m);
      std::string why;
      const wire::AlignedFrame frame({static_cast<const std::uint8_t*>(m.data()), m.size()});
      const auto* env = wire::verify_envelope(frame.bytes(), &why);
      REQUIRE(env != nullptr);
      if (env->body_type() == want) {
        const auto* p = static_cast<const std::uint8_t*>(m.data());
        return std::vector<std::uint8_t>(p, p + m.size());
      }
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t s_;
};

const wire::Envelope* env_of(const std::vector<std::uint8_t>& b) { return wire::GetEnvelope(b.data()); }

std::vector<std::uint8_t> update(std::uint32_t round, std::uint32_t client, std::uint32_t dim) {
  codec::SignPacket p = codec::make_dense_packet(dim, std::vector<std::uint8_t>((dim + 7) / 8, 0), 1.0f);
  fb::FlatBufferBuilder fbb(dim / 8 + 256);
  auto pk = codec::build_packet(fbb, p);
  auto bytes = wire::finish_envelope(fbb, wire::CreateUpdate(fbb, round, client, pk, 64, 1.0f, 1.0f));
  return {bytes.begin(), bytes.end()};
}

wire::ErrorCode expect_error(RawClient& c) {
  auto e = c.next(wire::Body::Error, 5000);
  REQUIRE(e.has_value());
  return env_of(*e)->body_as_Error()->code();
}

}  // namespace

#ifdef SIGNFED_FAULTY_EDGE_BIN  // the slow honest client: signfed-edge-faulty --delay-ms (built with the tools)
TEST_CASE("e2e: bad packets get an error reply, the round goes on, the coordinator survives") {
  Federation f;
  f.edge_bin = SIGNFED_FAULTY_EDGE_BIN;
  f.start_coordinator(2, {"--rounds", "3", "--round-timeout", "3000", "--eval-every", "0"});
  // The honest client takes 1.5 s per round, so each round stays open while
  // the hostile one sends its burst (otherwise the duplicate can race the close).
  f.start_edges(1, {"--delay-ms", "1500"});
  zmq::context_t ctx;
  RawClient evil(ctx, f.endpoint);

  // Garbage before joining.
  const std::uint8_t junk[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  evil.send(junk);
  CHECK(expect_error(evil) == wire::ErrorCode::bad_message);

  // A client of another protocol version is told both versions.
  {
    RawClient old(ctx, f.endpoint);
    fb::FlatBufferBuilder fbb(256);
    auto j = wire::CreateJoin(fbb, 99, fbb.CreateString("old"), fbb.CreateString("Linux"), fbb.CreateString("x86_64"),
                              fbb.CreateString("mlp:784-128-10"), 101770, 100, fbb.CreateString("raw"));
    old.send(wire::finish_envelope(fbb, j));
    auto e = old.next(wire::Body::Error, 10000);
    REQUIRE(e.has_value());
    const auto* err = env_of(*e)->body_as_Error();
    CHECK(err->code() == wire::ErrorCode::version_mismatch);
    const std::string text = err->text() ? err->text()->str() : "";
    CHECK(text.find("99") != std::string::npos);
    CHECK(text.find(std::to_string(wire::kProtocolVersion)) != std::string::npos);
  }

  // Join with the right model, then wait for the first task.
  {
    fb::FlatBufferBuilder fbb(256);
    auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString("evil"), fbb.CreateString("Linux"),
                              fbb.CreateString("x86_64"), fbb.CreateString("mlp:784-128-10"), 101770, 100,
                              fbb.CreateString("raw"));
    evil.send(wire::finish_envelope(fbb, j));
  }
  auto welcome = evil.next(wire::Body::Welcome, 10000);
  REQUIRE(welcome.has_value());
  const std::uint32_t me = env_of(*welcome)->body_as_Welcome()->client_id();
  auto task = evil.next(wire::Body::RoundTask, 30000);
  REQUIRE(task.has_value());
  const std::uint32_t round = env_of(*task)->body_as_RoundTask()->round();

  evil.send(update(round + 5, me, 101770));
  CHECK(expect_error(evil) == wire::ErrorCode::wrong_round);
  evil.send(update(round, me, 1000));
  CHECK(expect_error(evil) == wire::ErrorCode::wrong_size);
  evil.send(update(round, me + 1, 101770));
  CHECK(expect_error(evil) == wire::ErrorCode::bad_message);  // claims another client's identity
  evil.send(junk);
  CHECK(expect_error(evil) == wire::ErrorCode::bad_message);
  evil.send(update(round, me, 101770));   // a valid one is accepted...
  evil.send(update(round, me, 101770));   // ...but only once
  CHECK(expect_error(evil) == wire::ErrorCode::duplicate_update);

  const int rc = f.coordinator->wait(120);
  INFO(f.coordinator->output());
  CHECK(rc == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == 3);
  CHECK(query_number(f.db, "SELECT received FROM rounds WHERE round=" + std::to_string(round)) == 2);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE status='rejected' AND client_id=" +
                               std::to_string(me)) >= 3);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind='bad_message'") >= 2);
  CHECK(f.edges[0]->wait(30) == 0);
}
#endif
