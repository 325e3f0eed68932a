#include "schema/wire.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>

namespace signfed::wire {

std::span<const std::uint8_t> align_frame(std::span<const std::uint8_t> frame, std::vector<std::uint64_t>& copy) {
  if (frame.empty() || reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(std::uint64_t) == 0) return frame;
  copy.resize((frame.size() + 7) / 8);
  std::memcpy(copy.data(), frame.data(), frame.size());
  return {reinterpret_cast<const std::uint8_t*>(copy.data()), frame.size()};
}

const Envelope* verify_envelope(std::span<const std::uint8_t> frame, std::string* why) {
  if (reinterpret_cast<std::uintptr_t>(frame.data()) % alignof(std::uint64_t) != 0) {
    *why = "frame buffer is not 8-byte aligned (wrap it in wire::AlignedFrame)";
    return nullptr;
  }
  if (frame.size() < 8) {
    *why = "frame too short (" + std::to_string(frame.size()) + " bytes)";
    return nullptr;
  }
  if (frame.size() > kMaxFrameBytes) {
    *why = "frame of " + std::to_string(frame.size()) + " bytes exceeds the " + std::to_string(kMaxFrameBytes) +
           "-byte cap";
    return nullptr;
  }
  if (!flatbuffers::BufferHasIdentifier(frame.data(), EnvelopeIdentifier())) {
    *why = "not a signfed message (file identifier is not SGFD)";
    return nullptr;
  }
  // Depth 16 and 100k tables are far above what any valid message uses.
  flatbuffers::Verifier verifier(frame.data(), frame.size(), 16, 100000);
  if (!VerifyEnvelopeBuffer(verifier)) {
    *why = "message failed the FlatBuffers verifier";
    return nullptr;
  }
  const Envelope* env = GetEnvelope(frame.data());
  if (env->body_type() == Body::NONE || env->body() == nullptr) {
    *why = "envelope has no body";
    return nullptr;
  }
  return env;
}

const char* body_name(Body b) {
  const char* name = EnumNameBody(b);
  return (name != nullptr && *name != '\0') ? name : "unknown";
}

}  // namespace signfed::wire
