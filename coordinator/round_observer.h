// Watching rounds from outside the round loop: the progress printer, the
// simulator's SPB probe and plan traces subscribe with
// Coordinator::add_observer(). Called on the coordinator's thread; an
// observer must not keep the spans past the call.
#pragma once

#include <cstdint>
#include <span>

#include "coordinator/round_log.h"
#include "core/codec/packet.h"

namespace signfed::coord {

class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  // The round's result (voted signs or mean direction), before it is broadcast.
  virtual void round_result(std::uint32_t round, const codec::SignPacket& result) {
    (void)round;
    (void)result;
  }
  // After the round is logged: its row and the model after it.
  virtual void round_end(const RoundRow& row, std::span<const float> params, bool last_round) = 0;
};

}  // namespace signfed::coord
