// The coordinator's progress line, one per reported round:
//   round   150/300  acc  78.74%  train-loss  0.515  clients 10/10 late 0 rej 0  up 76.2 kB  down 191.2 kB  moved 48.5%    62 ms
// printed every `every` rounds (0: every ~5 % of the run), at every
// evaluation, and at the last round.
#pragma once

#include <cstdint>
#include <string>

#include "coordinator/round_observer.h"

namespace signfed::coord {

// The line for one round of a run of `rounds` rounds on a model of `params` parameters.
std::string progress_line(const RoundRow& row, std::uint32_t rounds, std::size_t params);

class ProgressPrinter final : public RoundObserver {
 public:
  ProgressPrinter(std::uint32_t rounds, std::uint32_t every, std::size_t params);
  void round_end(const RoundRow& row, std::span<const float> params, bool last_round) override;

 private:
  std::uint32_t rounds_, every_;
  std::size_t params_;
};

}  // namespace signfed::coord
