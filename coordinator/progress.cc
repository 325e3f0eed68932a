#include "coordinator/progress.h"

#include <algorithm>
#include <cstdio>

#include "coordinator/units.h"

namespace signfed::coord {

std::string progress_line(const RoundRow& row, std::uint32_t rounds, std::size_t params) {
  char acc[32] = "      -";
  if (row.test_accuracy) std::snprintf(acc, sizeof acc, "%6.2f%%", *row.test_accuracy * 100.0);
  char loss[32] = "     -";
  if (row.train_loss) std::snprintf(loss, sizeof loss, "%6.3f", *row.train_loss);
  char line[512];
  std::snprintf(line, sizeof line,
                "round %5u/%u  acc %s  train-loss %s  clients %u/%u late %u rej %u  up %s  down %s  moved %.1f%%  %4.0f ms",
                row.round + 1, rounds, acc, loss, row.received, row.selected, row.late, row.rejected,
                human_bytes(static_cast<double>(row.uplink_bytes)).c_str(),
                human_bytes(static_cast<double>(row.downlink_bytes)).c_str(),
                100.0 * static_cast<double>(row.coords_moved) / static_cast<double>(std::max<std::size_t>(params, 1)),
                (row.ended_at - row.started_at) * 1000.0);
  return line;
}

ProgressPrinter::ProgressPrinter(std::uint32_t rounds, std::uint32_t every, std::size_t params)
    : rounds_(rounds), every_(every > 0 ? every : std::max<std::uint32_t>(1, rounds / 20)), params_(params) {}

void ProgressPrinter::round_end(const RoundRow& row, std::span<const float>, bool last_round) {
  if (!last_round && !row.test_accuracy && (row.round + 1) % every_ != 0) return;
  std::printf("%s\n", progress_line(row, rounds_, params_).c_str());
  std::fflush(stdout);
}

}  // namespace signfed::coord
