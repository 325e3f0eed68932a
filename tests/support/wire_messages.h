// Builders for the frames a raw test client sends (fuzz seeds, hostile-input
// tests): each returns the finished Envelope as bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "schema/wire.h"

namespace signfed::test {

using Bytes = std::vector<std::uint8_t>;

template <class T>
Bytes finish(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<T> body) {
  const auto s = wire::finish_envelope(fbb, body);
  return {s.begin(), s.end()};
}

inline Bytes join_message(const std::string& name, const std::string& model, std::uint64_t num_params,
                          const std::string& data_desc, std::uint64_t samples = 100) {
  flatbuffers::FlatBufferBuilder fbb;
  return finish(fbb, wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString(name), fbb.CreateString("Linux"),
                                      fbb.CreateString("x86_64"), fbb.CreateString(model), num_params, samples,
                                      fbb.CreateString(data_desc)));
}

inline Bytes update_message(std::uint32_t round, std::uint32_t client, const codec::SignPacket& p,
                            float local_loss = 1.0f) {
  flatbuffers::FlatBufferBuilder fbb;
  auto pk = codec::build_packet(fbb, p);
  return finish(fbb, wire::CreateUpdate(fbb, round, client, pk, 32, local_loss, 1.0f));
}

}  // namespace signfed::test
