#include "relay/eval_sum.h"

#include <algorithm>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace signfed::relay {

using wire::ErrorCode;

void EvalSum::open(std::uint32_t round, std::set<std::uint32_t> expected, double deadline_s) {
  open_ = true;
  expected_ = std::move(expected);
  answered_.clear();
  deadline_s_ = deadline_s;
  sums_ = Sums{};
  sums_.round = round;
}

std::optional<coord::Refusal> EvalSum::offer(std::uint32_t child_id, const wire::EvalReport& m, std::uint64_t max_samples) {
  if (m.client_id() != child_id)
    return coord::Refusal{ErrorCode::bad_message, fmt::format("eval report claims client {} but comes from client {}",
                                                              m.client_id(), child_id)};
  if (!open_ || m.round() != sums_.round)
    return coord::Refusal{ErrorCode::wrong_round,
                          fmt::format("eval report for round {}; this relay is collecting {}", m.round(),
                                      open_ ? fmt::format("round {}'s", sums_.round) : std::string("none"))};
  if (!expected_.count(child_id))
    return coord::Refusal{ErrorCode::not_selected,
                          fmt::format("eval report for round {} from a child that was not asked", m.round())};
  if (answered_.count(child_id))
    return coord::Refusal{ErrorCode::duplicate_update, fmt::format("second eval report for round {}", m.round())};
  if (auto no = coord::check_eval_values(m, max_samples)) return no;
  answered_.insert(child_id);
  if (m.samples() == 0) return std::nullopt;  // no hold-out: an answer, not a row
  sums_.loss_sum += m.loss_sum();
  sums_.correct += m.correct();
  sums_.samples += m.samples();
  const double n = static_cast<double>(m.samples());
  sums_.rows.push_back({m.round(), child_id, m.loss_sum() / n, static_cast<double>(m.correct()) / n, m.samples()});
  return std::nullopt;
}

bool EvalSum::ready(double now_s) const {
  if (!open_) return false;
  return now_s >= deadline_s_ ||
         std::includes(answered_.begin(), answered_.end(), expected_.begin(), expected_.end());
}

EvalSum::Sums EvalSum::take() {
  open_ = false;
  expected_.clear();
  answered_.clear();
  return std::exchange(sums_, Sums{});
}

}  // namespace signfed::relay
