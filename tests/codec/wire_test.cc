// Framing: the verifier's door and the alignment FlatBuffers needs.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "schema/wire.h"

using namespace signfed;

TEST_CASE("wire: a misaligned frame is refused as is and verifies through AlignedFrame") {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto bytes = wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, 7, 3, 99));
  std::vector<std::uint64_t> storage(bytes.size() / 8 + 2);
  auto* odd = reinterpret_cast<std::uint8_t*>(storage.data()) + 2;  // 2 bytes off alignment
  std::memcpy(odd, bytes.data(), bytes.size());
  const std::span<const std::uint8_t> frame(odd, bytes.size());
  std::string why;
  CHECK(wire::verify_envelope(frame, &why) == nullptr);
  CHECK(why.find("aligned") != std::string::npos);
  const wire::AlignedFrame aligned(frame);
  const wire::Envelope* env = wire::verify_envelope(aligned.bytes(), &why);
  REQUIRE(env != nullptr);
  REQUIRE(env->body_type() == wire::Body::Heartbeat);
  CHECK(env->body_as_Heartbeat()->client_id() == 7);
  CHECK(env->body_as_Heartbeat()->unix_ms() == 99);
  // An aligned frame is viewed in place, not copied.
  CHECK(wire::AlignedFrame(bytes).bytes().data() == bytes.data());
}

TEST_CASE("wire: the verifier refuses short, foreign and truncated frames") {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto bytes = wire::finish_envelope(fbb, wire::CreateHeartbeat(fbb, 1, 2, 3));
  std::vector<std::uint64_t> storage(bytes.size() / 8 + 1);
  auto* buf = reinterpret_cast<std::uint8_t*>(storage.data());
  std::memcpy(buf, bytes.data(), bytes.size());
  std::string why;
  CHECK(wire::verify_envelope({buf, 4}, &why) == nullptr);
  CHECK(wire::verify_envelope({buf, bytes.size() - 5}, &why) == nullptr);
  buf[4] ^= 0xFF;  // file identifier
  CHECK(wire::verify_envelope({buf, bytes.size()}, &why) == nullptr);
  CHECK(why.find("SGFD") != std::string::npos);
}
