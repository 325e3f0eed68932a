// Conversions between codec packets and their wire form (schema SignPacket).
// view_of() aliases the FlatBuffers buffer: the view lives as long as it.
// Neither validates: callers run codec::validate() on views from the network.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include "core/codec/packet.h"
#include "schema/signfed_generated.h"

namespace signfed::codec {

PacketView view_of(const wire::SignPacket& p);

flatbuffers::Offset<wire::SignPacket> build_packet(flatbuffers::FlatBufferBuilder& fbb, const SignPacket& p);

}  // namespace signfed::codec
