#include "coordinator/inbound_checks.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include <fmt/core.h>

#include "coordinator/client_registry.h"
#include "coordinator/round_state.h"
#include "net/printable.h"

namespace signfed::coord {

namespace {

// Join.samples above this is refused (bad_value): 2^40 is far beyond any
// board's data, exact as a double (it weights the mean methods) and in SQLite.
constexpr std::uint64_t kMaxJoinSamples = std::uint64_t{1} << 40;

std::string text(const flatbuffers::String* s, std::size_t max) {
  return net::printable(s ? s->string_view() : std::string_view(), max);
}

}  // namespace

std::optional<Refusal> check_join(const wire::Join& m, const std::string& who, const std::string& spec,
                                  std::uint64_t num_params) {
  using wire::ErrorCode;
  if (m.protocol_version() != wire::kProtocolVersion)
    return Refusal{ErrorCode::version_mismatch,
                   fmt::format("protocol version mismatch: client speaks {}, {} speaks {}; install matching versions",
                               m.protocol_version(), who, wire::kProtocolVersion)};
  if (!ClientRegistry::valid_name(m.client_name() ? m.client_name()->string_view() : std::string_view()))
    return Refusal{ErrorCode::bad_value, "client_name must be 1..128 characters of [A-Za-z0-9._-:@+#/]"};
  const std::string theirs = m.model_spec() ? m.model_spec()->str() : "";
  if (!theirs.empty() && (theirs != spec || m.num_params() != num_params))
    return Refusal{ErrorCode::bad_value,
                   fmt::format("model mismatch: client has '{}' ({} params), run trains '{}' ({}); start the client "
                               "with --model {}", theirs, m.num_params(), spec, num_params, spec)};
  if (m.samples() > kMaxJoinSamples)
    return Refusal{ErrorCode::bad_value,
                   fmt::format("samples {} is above the limit {}; report the size of the local training set",
                               m.samples(), kMaxJoinSamples)};
  return std::nullopt;
}

std::optional<Refusal> check_admission(const RoundState* open, std::uint32_t next_round, std::uint32_t client_id,
                                       std::uint32_t claimed_id, std::uint32_t round, const std::string& what,
                                       const std::string& who) {
  using wire::ErrorCode;
  if (claimed_id != client_id)
    return Refusal{ErrorCode::bad_message,
                   fmt::format("{} claims client {} but comes from client {}", what, claimed_id, client_id)};
  const bool is_open = open && open->is_open();
  if (!is_open || round != open->round()) {
    // Late: for a round that has closed. One for a round not opened yet is refused, not late.
    const std::uint32_t current = is_open ? open->round() : next_round;
    return Refusal{ErrorCode::wrong_round,
                   fmt::format("{} for round {}{}", what, round,
                               is_open ? fmt::format("; the open round is {}", open->round()) : "; no round is open"),
                   round < current};
  }
  switch (open->refusal(client_id)) {
    case RoundState::Refusal::not_selected:
      return Refusal{ErrorCode::not_selected, fmt::format("{} not selected for round {}", who, round)};
    case RoundState::Refusal::duplicate:
      return Refusal{ErrorCode::duplicate_update, fmt::format("second {} for round {}", what, round)};
    case RoundState::Refusal::none: break;
  }
  return std::nullopt;
}

std::variant<codec::SignPacket, Refusal> admit_packet(const codec::PacketView& v, const methods::Strategy& strategy,
                                                      std::uint32_t dim) {
  if (!strategy.accepts(v.encoding))
    return Refusal{wire::ErrorCode::bad_message, fmt::format("encoding {} is not what method {} sends",
                                                             wire::EnumNameEncoding(v.encoding),
                                                             methods::method_name(strategy.method()))};
  std::shared_ptr<codec::SparseSigns> sparse;
  if (v.encoding == wire::Encoding::sparse_sign) sparse = std::make_shared<codec::SparseSigns>();
  try {
    codec::validate(v, dim, sparse.get());
  } catch (const codec::CodecError& e) {
    return Refusal{v.dim != dim ? wire::ErrorCode::wrong_size : wire::ErrorCode::bad_message, e.what()};
  }
  codec::SignPacket p = codec::SignPacket::copy_of(v);
  p.sparse = std::move(sparse);
  return p;
}

std::uint64_t eval_samples_bound(const Client& c) {
  return c.relay_clients > 0 ? std::uint64_t{c.relay_clients} * 0xFFFFFFFFull : std::uint64_t{c.row.samples};
}

std::optional<Refusal> check_eval_values(const wire::EvalReport& m, std::uint64_t max_samples) {
  using wire::ErrorCode;
  if (m.samples() > max_samples)
    return Refusal{ErrorCode::bad_value, fmt::format("eval report of {} hold-out samples; at most {} from this sender",
                                                     m.samples(), max_samples)};
  if (!std::isfinite(m.loss_sum()) || m.loss_sum() < 0.0)
    return Refusal{ErrorCode::bad_value, "eval report with a negative or non-finite loss"};
  if (m.correct() > m.samples())
    return Refusal{ErrorCode::bad_value, fmt::format("eval report with {} correct of {} samples", m.correct(), m.samples())};
  return std::nullopt;
}

std::variant<VerifiedTally, Refusal> verify_tally_update(const wire::TallyUpdate& m, const methods::Strategy& strategy,
                                                         std::uint32_t dim, std::uint32_t relay_clients) {
  using wire::ErrorCode;
  if (!m.tally()) return Refusal{ErrorCode::bad_message, "tally update has no tally"};
  VerifiedTally out;
  try {
    out.tally = methods::decode_tally({m.tally()->data(), m.tally()->size()}, dim);
  } catch (const codec::CodecError& e) {
    return Refusal{ErrorCode::bad_message, e.what()};
  }
  if (out.tally.index() != strategy.empty_tally(1).index())
    return Refusal{ErrorCode::bad_message, fmt::format("a {} tally is not what method {} aggregates",
                                                       out.tally.index() == 0 ? "vote" : "mean",
                                                       methods::method_name(strategy.method()))};
  const std::uint32_t folded = methods::folded(out.tally);
  if (folded > relay_clients)
    return Refusal{ErrorCode::bad_value,
                   fmt::format("tally folds {} updates; the relay joined for {} clients", folded, relay_clients)};
  const std::size_t n = m.children() ? m.children()->size() : 0;
  if (n > 4u * std::size_t{relay_clients} + 16)
    return Refusal{ErrorCode::bad_value, fmt::format("tally update with {} child rows", n)};
  std::set<std::string> counted;
  for (std::size_t i = 0; i < n; ++i) {
    const wire::ChildRow& ch = *m.children()->Get(static_cast<flatbuffers::uoffset_t>(i));
    ChildReport r;
    r.name = ch.name() ? ch.name()->str() : "";
    if (!ClientRegistry::valid_name(r.name)) return Refusal{ErrorCode::bad_value, "child row with an invalid name"};
    if (ch.status() > wire::ChildStatus::MAX) return Refusal{ErrorCode::bad_value, "child row with an unknown status"};
    if (ch.status() == wire::ChildStatus::counted && !counted.insert(r.name).second)
      return Refusal{ErrorCode::duplicate_update, fmt::format("child '{}' counted twice", r.name)};
    if (ch.join_samples() > kMaxJoinSamples) return Refusal{ErrorCode::bad_value, "child samples out of range"};
    r.platform = text(ch.platform(), 64);
    r.arch = text(ch.arch(), 64);
    r.detail = text(ch.detail(), 200);
    r.join_samples = ch.join_samples();
    r.status = ch.status();
    r.round = ch.round();
    r.bytes = ch.bytes();
    r.payload_bytes = ch.payload_bytes();
    r.samples = std::min<std::uint32_t>(ch.samples(), 1u << 24);
    r.latency_ms = std::isfinite(ch.latency_ms()) ? ch.latency_ms() : 0.0f;
    r.local_loss = std::isfinite(ch.local_loss()) ? ch.local_loss() : 0.0f;
    const bool has_agreement = std::isfinite(ch.agreement()) && ch.agreement() >= 0.0f && ch.agreement() <= 1.0f;
    r.agreement = has_agreement ? ch.agreement() : -1.0f;
    r.agreement_round = ch.agreement_round();
    out.rows.push_back(std::move(r));
  }
  if (const wire::LeafTotals* b = m.logged_below()) {
    LeafTotals& t = out.logged_below;
    t = {b->counted(), b->late(), b->rejected(), b->skipped(), b->counted_samples(), b->loss_sum()};
    if (std::max({t.counted, t.late, t.rejected, t.skipped}) > relay_clients || n + t.rows() > 4u * std::size_t{relay_clients} + 16)
      return Refusal{ErrorCode::bad_value, fmt::format("tally update with {} rows logged below; the relay joined for {} clients",
                                                       t.rows(), relay_clients)};
    if (!std::isfinite(t.loss_sum) || t.counted_samples > std::uint64_t{t.counted} << 24)
      return Refusal{ErrorCode::bad_value, "tally update with a non-finite loss sum or too many samples below"};
  }
  if (counted.size() + out.logged_below.counted != folded)
    return Refusal{ErrorCode::bad_value, fmt::format("tally folds {} updates but names {} counted children ({} logged below)",
                                                     folded, counted.size() + out.logged_below.counted,
                                                     out.logged_below.counted)};
  return out;
}

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::ChildRow>>> build_child_rows(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<ChildReport>& rows) {
  std::vector<flatbuffers::Offset<wire::ChildRow>> offs;
  offs.reserve(rows.size());
  for (const ChildReport& r : rows)
    offs.push_back(wire::CreateChildRow(fbb, fbb.CreateString(r.name), r.join_samples, fbb.CreateString(r.platform),
                                        fbb.CreateString(r.arch), r.status, r.round, r.bytes, r.payload_bytes,
                                        r.latency_ms, r.local_loss, r.samples, r.agreement, r.agreement_round,
                                        fbb.CreateString(r.detail)));
  return fbb.CreateVector(offs);
}

}  // namespace signfed::coord
