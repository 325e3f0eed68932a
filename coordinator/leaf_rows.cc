#include "coordinator/leaf_rows.h"

#include <algorithm>

namespace signfed::coord {

void LeafTotals::add(const ChildReport& r) {
  switch (r.status) {
    case wire::ChildStatus::counted:
      ++counted;
      counted_samples += r.samples;
      loss_sum += r.local_loss;
      break;
    case wire::ChildStatus::late: ++late; break;
    case wire::ChildStatus::rejected: ++rejected; break;
    case wire::ChildStatus::skipped: ++skipped; break;
  }
}

LeafTotals& LeafTotals::operator+=(const LeafTotals& o) {
  counted += o.counted;
  late += o.late;
  rejected += o.rejected;
  skipped += o.skipped;
  counted_samples += o.counted_samples;
  loss_sum += o.loss_sum;
  return *this;
}

wire::LeafTotals LeafTotals::to_wire() const {
  return {counted, late, rejected, skipped, counted_samples, loss_sum};
}

UpdateRow leaf_row(const ChildReport& ch, std::uint32_t round) {
  UpdateRow u;
  u.round = ch.status == wire::ChildStatus::late ? std::min(ch.round, round) : round;
  u.bytes = ch.bytes;
  u.payload_bytes = ch.payload_bytes;
  u.latency_ms = ch.latency_ms;
  u.local_loss = ch.local_loss;
  u.samples = ch.samples;
  u.status = wire::EnumNameChildStatus(ch.status);
  u.detail = ch.detail;  // (agreement: with an earlier round's vote; not this row's)
  return u;
}

std::optional<std::uint32_t> register_leaf(ClientRegistry& registry, const ChildReport& r, const std::string& via_relay,
                                           RoundLog& log, std::int64_t run_id, double now) {
  const std::optional<std::uint32_t> id = registry.behind_relay(r.name);
  if (!id) return std::nullopt;
  Client& leaf = registry.at(*id);
  if (!leaf.connected) {  // (a client connected here directly keeps its own row)
    const ClientRow was = leaf.row;
    leaf.row.platform = r.platform;
    leaf.row.arch = r.arch;
    leaf.row.samples = r.join_samples;
    leaf.row.data_desc = "via relay '" + via_relay + "'";
    if (was.platform != leaf.row.platform || was.arch != leaf.row.arch || was.samples != leaf.row.samples ||
        was.data_desc != leaf.row.data_desc)
      log.upsert_client(run_id, leaf.row, now);
  }
  return id;
}

}  // namespace signfed::coord
