#include "core/codec/wire_packet.h"

namespace signfed::codec {

PacketView view_of(const wire::SignPacket& p) {
  PacketView v;
  v.encoding = p.encoding();
  v.dim = p.dim();
  v.nnz = p.nnz();
  v.rice_k = p.rice_k();
  v.scale = p.scale();
  if (p.payload()) v.payload = {p.payload()->data(), p.payload()->size()};
  return v;
}

flatbuffers::Offset<wire::SignPacket> build_packet(flatbuffers::FlatBufferBuilder& fbb, const SignPacket& p) {
  auto payload = fbb.CreateVector(p.payload);
  return wire::CreateSignPacket(fbb, p.encoding, p.dim, p.nnz, p.rice_k, p.scale, payload);
}

}  // namespace signfed::codec
