#include "coordinator/round_state.h"

#include <algorithm>
#include <cassert>

namespace signfed::coord {

RoundState::RoundState(std::uint32_t round, std::vector<std::uint32_t> selected, float step, double opened_at,
                       double deadline_ms)
    : round_(round), selected_(std::move(selected)), step_(step), opened_at_(opened_at), deadline_ms_(deadline_ms) {
  assert(std::is_sorted(selected_.begin(), selected_.end()));
  row.round = round;
  row.step_size = step;
}

bool RoundState::is_selected(std::uint32_t id) const {
  return std::binary_search(selected_.begin(), selected_.end(), id);
}

RoundState::Refusal RoundState::refusal(std::uint32_t id) const {
  if (!is_selected(id)) return Refusal::not_selected;
  if (answered(id)) return Refusal::duplicate;  // counted, or said Skip: the sets stay disjoint
  return Refusal::none;
}

void RoundState::count(std::uint32_t id, std::unique_ptr<Received> update) {
  assert(open_ && refusal(id) == Refusal::none);
  counted_[id] = std::move(update);
}

bool RoundState::skip(std::uint32_t id) {
  if (!open_ || !is_selected(id) || has_update(id)) return false;
  return skipped_.insert(id).second;
}

std::size_t RoundState::dropped() const {
  return static_cast<std::size_t>(std::count_if(selected_.begin(), selected_.end(), [&](std::uint32_t id) {
    return counted_.count(id) == 0 && late_.count(id) == 0 && skipped_.count(id) == 0;
  }));
}

RoundState::Closed RoundState::close(const StragglerPolicy& policy, bool virtual_time) {
  open_ = false;
  Closed c;
  if (virtual_time) {
    std::vector<Arrival> arrivals;
    for (const auto& [id, r] : counted_) arrivals.push_back({id, r->virtual_ms >= 0 ? r->virtual_ms : r->row.latency_ms});
    const Admission adm = admit_virtual(policy, arrivals, selected_.size(), deadline_ms_);
    for (std::uint32_t id : adm.late) {
      UpdateRow late = counted_.at(id)->row;
      late.status = "late";
      late.detail = "simulated latency beyond the " + policy.name() + " deadline";
      c.late.push_back(late);
      counted_.erase(id);
      late_.insert(id);
    }
    c.simulated_ms = adm.round_ms;
  }
  for (const auto& [id, r] : counted_) c.counted_latency.push_back(r->row.latency_ms);
  return c;
}

}  // namespace signfed::coord
