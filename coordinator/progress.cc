#include "coordinator/progress.h"

#include <algorithm>
#include <cstdio>

#include <fmt/core.h>

#include "coordinator/units.h"

namespace signfed::coord {

// Widths of floats say '>' explicitly: fmt 9 pads nan/inf on the right otherwise,
// unlike printf, and scripts read these columns.
std::string progress_line(const RoundRow& row, std::uint32_t rounds, std::size_t params) {
  const std::string acc = row.test_accuracy ? fmt::format("{:>6.2f}%", *row.test_accuracy * 100.0) : "      -";
  const std::string loss = row.train_loss ? fmt::format("{:>6.3f}", *row.train_loss) : "     -";
  return fmt::format(
      "round {:5}/{}  acc {}  train-loss {}  clients {}/{} late {} rej {}  up {}  down {}  moved {:.1f}%  {:>4.0f} ms",
      row.round + 1, rounds, acc, loss, row.received, row.selected, row.late, row.rejected,
      human_bytes(static_cast<double>(row.uplink_bytes)), human_bytes(static_cast<double>(row.downlink_bytes)),
      100.0 * static_cast<double>(row.coords_moved) / static_cast<double>(std::max<std::size_t>(params, 1)),
      (row.ended_at - row.started_at) * 1000.0);
}

ProgressPrinter::ProgressPrinter(std::uint32_t rounds, std::uint32_t every, std::size_t params)
    : rounds_(rounds), every_(every > 0 ? every : std::max<std::uint32_t>(1, rounds / 20)), params_(params) {}

void ProgressPrinter::round_end(const RoundRow& row, std::span<const float>, bool last_round) {
  if (!last_round && !row.test_accuracy && (row.round + 1) % every_ != 0) return;
  fmt::print("{}\n", progress_line(row, rounds_, params_));
  std::fflush(stdout);
}

}  // namespace signfed::coord
