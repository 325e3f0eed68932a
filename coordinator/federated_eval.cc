// Federated evaluation, the coordinator's side: which rounds ask the clients
// to score their hold-out (VoteResult.evaluate), the verification of their
// EvalReports, and the wait for the last round's reports at the end of a run.
//
// A report is for the model after a round the coordinator has finished, so it
// arrives while a later round runs: accepted reports wait in pending_evals_
// and are written with the next round's commit (client_evals rows and an
// UPDATE of the evaluated round's fed_* aggregate), keeping one transaction
// per round. The last round's reports get their own transaction (finish_evals).
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/core.h>

#include "coordinator/coordinator.h"
#include "coordinator/inbound_checks.h"
#include "schema/wire.h"

namespace signfed::coord {

using wire::ErrorCode;

namespace {

// A report for a round more than this many rounds before the last finished
// one is refused: clients evaluate right after the VoteResult, so an honest
// report is at most a round or two behind; older ones are replays.
constexpr std::uint32_t kEvalMaxAgeRounds = 3;
// Rejection rows (events) and Error replies per client per round, shared with
// refused updates (Client::rejects): a replaying client costs a bounded log.
constexpr std::uint32_t kMaxRejectRowsPerRound = 8;

}  // namespace

bool Coordinator::eval_round(std::uint32_t round) const {
  if (cfg_.eval_every == 0) return false;
  return round + 1 == cfg_.rounds || (round + 1) % cfg_.eval_every == 0;
}

void Coordinator::on_eval_report(const std::string& peer, Client* c, const wire::EvalReport& m) {
  if (!c) return reply_error(peer, ErrorCode::unknown_client, "unknown client: send Join first", m.round());
  const std::uint32_t id = c->row.client_id;
  auto reject = [&](ErrorCode code, const std::string& why) {
    const std::uint32_t r = open_round().value_or(next_round_);
    if (c->reject_round != r) c->reject_round = r, c->rejects = 0;
    if (++c->rejects > kMaxRejectRowsPerRound) return;
    log_->log_event(run_id_, unix_s(), id, "eval_rejected", why);
    reply_error(peer, code, why, m.round());
  };
  if (m.client_id() != id)
    return reject(ErrorCode::bad_message, fmt::format("eval report claims client {} but comes from client {}",
                                                      m.client_id(), id));
  // Only for a finished round that asked for reports, and not a stale one.
  const bool finished = m.round() < next_round_;
  if (!finished || !eval_asked_.count(m.round()) || next_round_ - 1 - m.round() > kEvalMaxAgeRounds)
    return reject(ErrorCode::wrong_round,
                  fmt::format("eval report for round {}, which is not a recent finished round that asked for "
                              "evaluation (last finished: {})",
                              m.round(), next_round_ == 0 ? std::string("none") : std::to_string(next_round_ - 1)));
  if (eval_answered_.count({m.round(), id}))
    return reject(ErrorCode::duplicate_update, fmt::format("second eval report for round {}", m.round()));
  // A relay's report is its subtree's sums (relay/eval_sum.h).
  if (const auto no = check_eval_values(m, eval_samples_bound(*c))) return reject(no->code, no->why);
  eval_answered_.insert({m.round(), id});
  if (m.samples() == 0) return;  // no hold-out: an answer, not a row
  const double n = static_cast<double>(m.samples());
  pending_evals_.push_back({m.round(), id, m.loss_sum() / n, static_cast<double>(m.correct()) / n, m.samples()});
  // Forget rounds too old to report on.
  const std::uint32_t oldest = next_round_ > kEvalMaxAgeRounds + 1 ? next_round_ - 1 - kEvalMaxAgeRounds : 0;
  eval_asked_.erase(eval_asked_.begin(), eval_asked_.lower_bound(oldest));
  eval_answered_.erase(eval_answered_.begin(), eval_answered_.lower_bound({oldest, 0}));
}

void Coordinator::finish_evals() {
  // Wait for the last round's reports only when the run finished it and it asked.
  if (next_round_ == cfg_.rounds && eval_asked_.count(cfg_.rounds - 1)) {
    const std::uint32_t last = cfg_.rounds - 1;
    const double deadline = now_s() + cfg_.round_timeout_ms / 1000.0;
    // Live as selection counts it (connected, heard within --dead-after): a
    // client that crashed costs this wait at most --round-timeout, as it would cost a round.
    auto all_answered = [&] {
      for (std::uint32_t id : registry_.connected_ids()) {
        const bool live = (now_s() - registry_.at(id).last_seen) * 1000.0 < cfg_.dead_after_ms;
        if (live && !eval_answered_.count({last, id})) return false;
      }
      return true;
    };
    while (!all_answered() && now_s() < deadline && !stopping())
      poll_once(static_cast<int>(std::max(1.0, std::min(200.0, (deadline - now_s()) * 1000.0))));
  }
  if (pending_evals_.empty()) return;
  log_->commit_evals(run_id_, pending_evals_);
  pending_evals_.clear();
}

}  // namespace signfed::coord
