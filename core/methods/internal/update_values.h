// What the mean methods read from an update packet (vote.cc defines them;
// mean_aggregate and MeanTally both use them, so the two read alike).
#pragma once

#include <span>
#include <vector>

#include "core/codec/packet.h"

namespace signfed::methods::internal {

// The packet's vector exactly as floats: float32 as sent, signs as scale * {-1, 0, +1}.
std::vector<float> decode_values(const codec::PacketView& p);

// What x is multiplied by to have L2 norm at most clip (1: no clipping; the norm in double).
double clip_factor(std::span<const float> x, double clip);

}  // namespace signfed::methods::internal
