// Framing and verification of signfed wire messages (schema/signfed.fbs).
//
// Every ZeroMQ frame carries exactly one Envelope. verify_envelope() is the
// only door from bytes to a typed message: it runs the FlatBuffers verifier
// (bounds, offsets, depth, table count) with our size caps and checks the
// file identifier. The returned pointer aliases the frame: it is valid while
// the frame's bytes are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "schema/signfed_generated.h"

namespace signfed::wire {

// Incompatible protocol changes bump this; Join carries it and the coordinator
// refuses other versions with an error naming both.
// 2: sign(0) = 0 on the wire (runs_sign packets carry abstentions), inputs
// standardised from Welcome, fedavg's local rate in MethodParams.local_lr.
inline constexpr std::uint16_t kProtocolVersion = 2;

// Largest frame accepted (bytes). A float32 update of 10^7 parameters is 40 MB.
inline constexpr std::size_t kMaxFrameBytes = 64u << 20;

// Largest model a peer may announce (parameters).
inline constexpr std::uint64_t kMaxParams = 16u << 20;

// Parameters per ModelSnapshot chunk (1 MiB of floats per chunk).
inline constexpr std::uint32_t kSnapshotChunkParams = 1u << 18;

// FlatBuffers reads its scalars in place, so a buffer must be 8-byte aligned.
// ZeroMQ keeps small messages inline in zmq_msg_t, often misaligned: this
// views the frame as is when it is aligned and an aligned copy otherwise.
// The view lives as long as both the AlignedFrame and the original bytes.
// align_frame() is the same with a copy buffer the caller keeps (its storage
// is reused from call to call: a receive loop that allocates nothing once
// the buffer has grown); the view lives as long as the buffer and the bytes.
std::span<const std::uint8_t> align_frame(std::span<const std::uint8_t> frame, std::vector<std::uint64_t>& copy);

class AlignedFrame {
 public:
  explicit AlignedFrame(std::span<const std::uint8_t> frame) : view_(align_frame(frame, copy_)) {}
  std::span<const std::uint8_t> bytes() const { return view_; }

 private:
  std::vector<std::uint64_t> copy_;
  std::span<const std::uint8_t> view_;
};

// Verifies frame (which must be 8-byte aligned: see AlignedFrame) and returns its Envelope, or nullptr with *why set to a
// one-line reason. Never reads outside frame.
const Envelope* verify_envelope(std::span<const std::uint8_t> frame, std::string* why);

// Finishes builder with body as the Envelope root (and the file identifier)
// and returns the finished bytes (valid until the builder is reset).
template <class T>
std::span<const std::uint8_t> finish_envelope(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> body) {
  auto env = CreateEnvelope(fbb, BodyTraits<T>::enum_value, body.Union());
  fbb.Finish(env, EnvelopeIdentifier());
  return {fbb.GetBufferPointer(), fbb.GetSize()};
}

const char* body_name(Body b);

}  // namespace signfed::wire
