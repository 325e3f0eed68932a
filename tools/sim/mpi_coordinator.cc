#include "tools/sim/mpi_coordinator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/codec/step.h"
#include "core/codec/wire_packet.h"
#include "coordinator/central_test.h"
#include "coordinator/checkpoint_due.h"
#include "schema/wire.h"

namespace signfed::sim {

namespace fb = flatbuffers;

namespace {

double unix_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

MpiCoordinator::MpiCoordinator(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy,
                               const std::vector<std::vector<std::uint32_t>>& shards, int ranks)
    : cc_(cc),
      strategy_(strategy),
      log_(cc.db_path),
      registry_(cc.max_clients),
      suspicion_(cc.suspect_mads, cc.suspect_min_rounds) {
  log_.set_max_pages(cc.db_max_pages);
  model_ = model::make_model(cc.model, cc.seed, cc.init);
  replica_ = std::make_unique<core::Replica>(model_->params(), codec::architecture_basis(model_->spec()));
  if (!cc.quiet) {
    progress_ = std::make_unique<coord::ProgressPrinter>(cc.rounds, cc.progress_every, model_->num_params());
  }
  if (strategy.uses_momentum()) replica_->enable_momentum();
  run_id_ = log_.begin_run(coord::to_json(cc).dump(), cc.rounds, cc.tag);
  digest_ = replica_->digest();
  summary_.run_id = run_id_;
  log_.log_event(run_id_, unix_s(), std::nullopt, "transport",
                 fmt::format("MPI: {} ranks (signfed-sim --mpi; tallies reduced, no sockets)", ranks));
  if (cc.eval_every > 0 && cc.central_test) load_test();
  // Every client joins in index order, so its id is its index (as the name
  // order the selection draws over is the in-process simulator's).
  for (std::uint32_t c = 0; c < shards.size(); ++c) {
    const auto adm = registry_.admit("sim-" + std::to_string(c), "", "", "mpi-" + std::to_string(c), 0.0, 0.0);
    if (adm.outcome != coord::ClientRegistry::Outcome::admitted || adm.client->row.client_id != c)
      throw std::runtime_error(fmt::format("client sim-{} could not be registered as id {}", c, c));
    coord::ClientRow& row = adm.client->row;
    row.platform = "signfed-sim --mpi";
    row.arch = fmt::format("rank {}", c % static_cast<std::uint32_t>(ranks));
    row.samples = shards[c].size();
    log_.upsert_client(run_id_, row, unix_s());
  }
  if (!cc.quiet)
    fmt::print("signfed-sim --mpi: run {}, {} clients on {} ranks, {} ({} params), {} rounds, method {}, log {}\n",
               run_id_, shards.size(), ranks, model_->spec(), model_->num_params(), cc.rounds,
               methods::method_name(cc.method.method), cc.db_path);
  std::fflush(stdout);
}

methods::TaskPlan MpiCoordinator::begin_round(std::uint32_t round, std::vector<std::uint8_t>& chosen) {
  started_at_ = unix_s();
  const methods::TaskPlan plan = strategy_.plan(cc_.step_at(round));
  selected_ = registry_.select(round, cc_.seed, cc_.fraction, 0, 0.0, cc_.dead_after_ms);
  std::fill(chosen.begin(), chosen.end(), 0);
  for (std::uint32_t id : selected_) chosen[id] = 1;
  // The RoundTask each participant would receive (for the downlink bytes).
  fb::FlatBufferBuilder fbb(256);
  const auto& m = cc_.method;
  auto params = wire::CreateMethodParams(fbb, m.method, m.gamma, m.eta, m.momentum, m.tie_rule,
                                         static_cast<std::uint16_t>(cc_.local_steps),
                                         static_cast<std::uint16_t>(cc_.batch_size), plan.local_lr);
  auto task = wire::CreateRoundTask(fbb, round, digest_, params, plan.step, cc_.round_timeout_ms, false);
  task_bytes_ = wire::finish_envelope(fbb, task).size();
  return plan;
}

ResultHeader MpiCoordinator::aggregate(std::uint32_t round, const methods::Tally& tally, float step,
                                       std::vector<std::uint8_t>& packet) {
  agg_ = methods::Aggregate{};
  if (selected_.empty()) {
    agg_.result = codec::encode_ternary_best(codec::TernarySigns::zeros(static_cast<std::uint32_t>(replica_->size())));
  } else {
    agg_ = strategy_.aggregate(round, tally, step, *replica_);
  }
  fb::FlatBufferBuilder pb(agg_.result.payload.size() + 64);
  pb.Finish(codec::build_packet(pb, agg_.result));
  packet.assign(pb.GetBufferPointer(), pb.GetBufferPointer() + pb.GetSize());
  ResultHeader h;
  h.packet_bytes = packet.size();
  h.new_digest = replica_->digest();
  h.voters = static_cast<std::uint32_t>(selected_.size());
  h.momentum = agg_.momentum;
  return h;
}

void MpiCoordinator::finish_round(std::uint32_t round, float step, const ResultHeader& h,
                                  const std::vector<std::uint8_t>& packet, const std::vector<UpdateRecord>& recs) {
  coord::RoundRow row;
  row.round = round;
  row.started_at = started_at_;
  row.step_size = step;
  row.selected = static_cast<std::uint32_t>(selected_.size());
  row.received = static_cast<std::uint32_t>(recs.size());
  if (recs.size() != selected_.size())
    throw std::runtime_error(fmt::format("round {}: {} updates gathered for {} participants", round, recs.size(),
                                         selected_.size()));
  std::vector<coord::UpdateRow> rows;
  double loss_sum = 0.0;
  std::vector<std::uint32_t> ids;
  std::vector<double> agreement;
  for (const UpdateRecord& u : recs) {
    coord::UpdateRow r;
    r.round = round;
    r.client_id = u.client;
    r.bytes = u.bytes;
    r.payload_bytes = u.payload_bytes;
    r.latency_ms = u.latency_ms;
    r.local_loss = u.loss;
    r.samples = u.samples;
    r.status = "counted";
    if (!std::isnan(u.agreement)) {
      r.agreement = u.agreement;
      ids.push_back(u.client);
      agreement.push_back(u.agreement);
    }
    row.uplink_bytes += u.bytes;
    loss_sum += u.loss;
    rows.push_back(std::move(r));
  }
  if (!recs.empty()) row.train_loss = loss_sum / static_cast<double>(recs.size());
  row.downlink_bytes = task_bytes_ * selected_.size();
  if (!selected_.empty()) record_aggregate(round, ids, agreement, row);
  const bool evaluate = eval_round(round);
  {  // The VoteResult every client would receive.
    fb::FlatBufferBuilder fbb(agg_.result.payload.size() + 256);
    auto pk = codec::build_packet(fbb, agg_.result);
    auto vr = wire::CreateVoteResult(fbb, round, pk, step, agg_.momentum, h.new_digest, h.voters, false, evaluate);
    row.downlink_bytes += wire::finish_envelope(fbb, vr).size() * registry_.connected();
  }
  digest_ = h.new_digest;
  row.model_digest = digest_;
  const bool last = round + 1 == cc_.rounds;
  if (test_ && evaluate) evaluate_test(row);
  row.ended_at = unix_s();
  coord::ResultRow result;
  result.round = round;
  result.packet = packet;
  result.step = step;
  result.momentum = agg_.momentum;
  result.applied = !selected_.empty() && agg_.refused.empty();
  result.digest = digest_;
  const std::optional<coord::Checkpoint> ck =
      coord::checkpoint_if_due(*replica_, digest_, round, last, checkpointed_, cc_.checkpoint_every);
  const bool keep = ck.has_value();
  log_.commit_round(run_id_, row, rows, &result, ck ? &*ck : nullptr, keep, {});
  if (ck) checkpointed_ = true;
  summary_.uplink_bytes += row.uplink_bytes;
  summary_.downlink_bytes += row.downlink_bytes;
  summary_.rounds_done = round + 1;
  if (progress_) progress_->round_end(row, model_->params(), last);
}

coord::RunSummary MpiCoordinator::end() {
  log_.end_run(run_id_, "completed");
  summary_.status = "completed";
  summary_.final_digest = digest_;
  summary_.clients = static_cast<std::uint32_t>(registry_.size());
  return summary_;
}

bool MpiCoordinator::eval_round(std::uint32_t round) const {
  if (cc_.eval_every == 0) return false;
  return round + 1 == cc_.rounds || (round + 1) % cc_.eval_every == 0;
}

void MpiCoordinator::load_test() {
  const std::string data_dir = cc_.data_dir.empty() ? std::string(data::kFashionMnistDir) : cc_.data_dir;
  data::Dataset test = coord::load_central_test(data_dir, cc_.test_file, cc_.test_labels, *model_);
  const data::Standardisation inputs{cc_.standardise, cc_.input_mean, cc_.input_std};
  inputs.apply(test.features, test.features);
  test_ = std::make_shared<const data::Dataset>(std::move(test));
}

void MpiCoordinator::evaluate_test(coord::RoundRow& row) {
  const model::EvalResult e = coord::score_central_test(*model_, *test_, cc_.test_limit, row);
  summary_.final_accuracy = e.accuracy;
  summary_.best_accuracy = std::max(summary_.best_accuracy, e.accuracy);
}

void MpiCoordinator::record_aggregate(std::uint32_t round, const std::vector<std::uint32_t>& ids,
                                      const std::vector<double>& agreement, coord::RoundRow& row) {
  row.coords_moved = agg_.coords_moved;
  row.ties = agg_.ties;
  row.margin_hist = agg_.margin_hist;
  if (!agreement.empty()) {
    for (const auto& f : suspicion_.observe(ids, agreement)) {
      log_.log_event(run_id_, unix_s(), f.client_id, "suspect_client", f.detail());
      fmt::print(stderr,
                 "signfed-sim --mpi: SUSPECT CLIENT {} '{}': its votes disagree with the majority {:.1f}% of the "
                 "time (median client {:.1f}%) after {} rounds; it may be faulty or Byzantine\n",
                 f.client_id, registry_.at(f.client_id).row.name, f.mean * 100.0, f.median * 100.0, f.rounds);
    }
  }
  if (agg_.refused.empty()) return;
  row.refused = agg_.refused;
  log_.log_event(run_id_, unix_s(), std::nullopt, "aggregate_refused",
                 fmt::format("{}: L2 norm {:.6g}; step not applied, model kept, all-zero update broadcast",
                             agg_.refused, agg_.refused_norm));
  fmt::print(stderr, "signfed-sim --mpi: round {}: REFUSED the aggregate ({}, L2 norm {:.3g}); the model is kept\n",
             round, agg_.refused, agg_.refused_norm);
}

}  // namespace signfed::sim
