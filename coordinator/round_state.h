// One round between its task and its result: who was selected, whose update
// counts, who said Skip, and when collection is over. Pure: no socket, no
// SQLite, no clock read (times are passed in), so the admission rules are
// unit-testable on their own; the coordinator does the I/O around it.
//
//   RoundState r(round, selected, step, opened_at, deadline_ms);
//   r.refusal(id) -> none | not_selected | duplicate     (then r.count(id, update))
//   r.skip(id)                                           (Skip, or a client Error)
//   r.complete(need)                                     (stop collecting?)
//   r.close(policy, virtual_time) -> late rows, latencies, simulated duration
//   r.dropped()                                          (after close: for the round row)
//
// Every selected client ends the round in exactly one of four sets, so
//   selected = received + late + skipped + dropped   (all of this round's clients):
//   received  its update counts (after close: admitted by the straggler policy);
//   late      its update arrived but close() refused it (virtual time: beyond
//             the policy's simulated deadline);
//   skipped   it said Skip, or sent an Error for the round;
//   dropped   none of these: nothing usable arrived before the round closed
//             (silent, disconnected, only rejected updates, or an update that
//             arrives after close, which is logged as late with a later round).
// Counts come from these sets, never by subtraction: frames that do not
// belong to the round (updates for other rounds, strangers' frames) cannot move them.
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "coordinator/leaf_rows.h"
#include "coordinator/round_log.h"
#include "coordinator/straggler.h"
#include "core/codec/packet.h"
#include "core/methods/tally.h"

namespace signfed::coord {

// An update that passed every check, with its log row.
struct Received {
  codec::SignPacket packet;
  UpdateRow row;
  double virtual_ms = -1.0;  // simulated latency reported by the client (-1: none)
  // A relay's TallyUpdate (packet unused): its children's counted updates
  // folded, and one log row per child (counted, late, rejected, skipped).
  std::optional<methods::Tally> tally;
  std::vector<UpdateRow> children;
  LeafTotals logged_below;  // children whose rows are in a relay's own log, not in `children`
  // Per child row: (round, agreement) of its previous counted update with that round's vote; round UINT32_MAX: none.
  std::vector<std::pair<std::uint32_t, double>> child_agreement;
};

class RoundState {
 public:
  // selected: sorted client ids. opened_at: monotonic s when the tasks went out.
  RoundState(std::uint32_t round, std::vector<std::uint32_t> selected, float step, double opened_at,
             double deadline_ms);

  std::uint32_t round() const { return round_; }
  float step() const { return step_; }
  double opened_at() const { return opened_at_; }
  double deadline_ms() const { return deadline_ms_; }
  const std::vector<std::uint32_t>& selected() const { return selected_; }
  // Open from construction until close().
  bool is_open() const { return open_; }

  bool is_selected(std::uint32_t id) const;
  bool has_update(std::uint32_t id) const { return counted_.count(id) > 0; }
  // Counted, or said it will not answer.
  bool answered(std::uint32_t id) const { return has_update(id) || skipped_.count(id) > 0; }

  enum class Refusal { none, not_selected, duplicate };
  // Whether an update of this round from client id may be counted (not after
  // its update or its Skip: duplicate).
  Refusal refusal(std::uint32_t id) const;
  void count(std::uint32_t id, std::unique_ptr<Received> update);
  // A selected client that has not answered says it will not: true the first time.
  bool skip(std::uint32_t id);

  std::size_t updates() const { return counted_.size(); }
  std::size_t skipped() const { return skipped_.size(); }
  // Selected clients refused as late at close() (virtual time).
  std::size_t late_at_close() const { return late_.size(); }
  // Selected clients in none of received, late_at_close, skipped (see the top).
  std::size_t dropped() const;
  // Collection is over once `need` updates arrived or every selected client answered.
  bool complete(std::size_t need) const {
    return counted_.size() >= need || counted_.size() + skipped_.size() >= selected_.size();
  }

  struct Closed {
    std::vector<UpdateRow> late;           // virtual time: beyond the policy's simulated deadline
    std::vector<double> counted_latency;   // ms, of the updates that count
    double simulated_ms = 0.0;             // virtual time: the round's simulated duration
  };
  // Ends collection. Under virtual time the straggler policy is applied to
  // the clients' simulated latencies (straggler.h admit_virtual) and the late
  // updates leave the counted set.
  Closed close(const StragglerPolicy& policy, bool virtual_time);

  // The counted updates by client id (after close(): the admitted ones).
  const std::map<std::uint32_t, std::unique_ptr<Received>>& counted() const { return counted_; }
  Received& counted(std::uint32_t id) { return *counted_.at(id); }

  RoundRow row;                    // the round's log row, filled as the round goes
  std::vector<std::uint8_t> task;  // the RoundTask envelope, resent to a selected client that rejoins

 private:
  std::uint32_t round_;
  std::vector<std::uint32_t> selected_;
  float step_;
  double opened_at_, deadline_ms_;
  bool open_ = true;
  std::map<std::uint32_t, std::unique_ptr<Received>> counted_;
  std::set<std::uint32_t> skipped_;
  std::set<std::uint32_t> late_;
};

}  // namespace signfed::coord
