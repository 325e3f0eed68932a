#include "tools/sim/mpi_clients.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <fmt/core.h>

#include "core/codec/wire_packet.h"
#include "core/data/rng.h"
#include "core/methods/vote.h"
#include "schema/wire.h"

namespace signfed::sim {

namespace fb = flatbuffers;

namespace {

double mono_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

RankClients::RankClients(const coord::CoordinatorConfig& cc, const methods::Strategy& strategy, std::uint64_t data_seed,
                         std::shared_ptr<const data::Dataset> train,
                         const std::vector<std::vector<std::uint32_t>>& shards, int rank, int size)
    : cc_(cc),
      strategy_(strategy),
      data_seed_(data_seed),
      shared_(cc.model, cc.seed, cc.init),
      bench_(shared_, edge::Shard{train, {0}}),
      inputs_{cc.standardise, cc.input_mean, cc.input_std},
      shards_(shards) {
  for (std::uint32_t c = static_cast<std::uint32_t>(rank); c < shards.size(); c += static_cast<std::uint32_t>(size)) {
    // (hold_out with share 0 keeps the shard as it is: --holdout is refused)
    slots_.push_back(Slot{c, edge::LocalTrainer::client_state(edge::Shard{train, shards[c]}, data_seed, c), {}});
  }
}

methods::Tally RankClients::train(std::uint32_t round, const methods::TaskPlan& plan,
                                  const std::vector<std::uint8_t>& chosen, std::vector<UpdateRecord>& recs) {
  recs.clear();
  kept_.clear();
  methods::Tally tally = strategy_.empty_tally(static_cast<std::uint32_t>(shared_.num_params()));
  if (!bench_.sync(shared_, version_)) throw std::logic_error("the rank's replica moved past its clients");
  // The task's parameters as an EdgeClient reads them off the RoundTask.
  edge::LocalWork w;
  w.round = round;
  w.steps = std::max<std::uint16_t>(static_cast<std::uint16_t>(cc_.local_steps), 1);
  w.batch = std::clamp<std::uint32_t>(static_cast<std::uint16_t>(cc_.batch_size), 1, 4096);
  w.fedavg = methods::trains_locally(cc_.method.method);
  w.local_lr = plan.local_lr;
  methods::MethodConfig mc;
  mc.method = cc_.method.method;
  mc.gamma = cc_.method.gamma;
  mc.eta = cc_.method.eta;
  mc.momentum = cc_.method.momentum;
  mc.tie_rule = cc_.method.tie_rule;
  const bool vote = methods::is_vote_method(mc.method);
  const bool own_error = edge::keeps_error_memory(mc.method);
  edge::LocalTrainer& trainer = *bench_.trainer;
  for (Slot& s : slots_) {
    if (!chosen[s.index]) continue;
    const double t0 = mono_s();
    trainer.swap_client(s.state);  // the Lease
    trainer.set_inputs(inputs_);
    const double loss = trainer.compute(w);
    const std::uint64_t base_seed = data::mix_seed(data_seed_, s.index, round);
    if (own_error && s.error.empty()) s.error.assign(shared_.num_params(), 0.0f);
    if (own_error) bench_.encoder.swap_error_memory(s.error);
    try {
      bench_.encoder.encode_into(trainer.update(), mc, data::mix_seed(base_seed, 0xc0de), packet_);
    } catch (...) {
      if (own_error) bench_.encoder.swap_error_memory(s.error);
      trainer.swap_client(s.state);
      throw;
    }
    if (own_error) bench_.encoder.swap_error_memory(s.error);
    trainer.swap_client(s.state);
    const double ms = (mono_s() - t0) * 1000.0;
    strategy_.fold(tally, methods::Counted{s.index, packet_.view(), static_cast<double>(shards_[s.index].size())});
    UpdateRecord r;
    r.client = s.index;
    r.samples = w.batch * w.steps;
    r.payload_bytes = packet_.payload.size();
    r.latency_ms = ms;
    r.loss = loss;
    out_.Clear();  // the Update an EdgeClient sends, for its size on the wire
    auto wp = codec::build_packet(out_, packet_);
    r.bytes = wire::finish_envelope(out_, wire::CreateUpdate(out_, round, s.index, wp, r.samples,
                                                             static_cast<float>(loss), static_cast<float>(ms), -1.0f))
                  .size();
    recs.push_back(r);
    if (vote) kept_.push_back(packet_);  // for the agreement once the vote is known
  }
  return tally;
}

void RankClients::apply(std::uint32_t round, float step, const ResultHeader& h, const std::vector<std::uint8_t>& packet,
                        std::vector<UpdateRecord>& recs) {
  fb::Verifier v(packet.data(), packet.size());
  if (!v.VerifyBuffer<wire::SignPacket>(nullptr)) throw std::runtime_error("the broadcast result does not verify");
  const codec::PacketView view = codec::view_of(*fb::GetRoot<wire::SignPacket>(packet.data()));
  if (h.voters > 0) {
    const auto to = shared_.apply(version_, round, view, step, h.momentum, false);
    if (!to) throw std::logic_error("the rank's replica could not apply the round's result");
    version_ = *to;
  }
  if (shared_.digest_at(version_) != h.new_digest)
    throw std::runtime_error(fmt::format("round {}: this rank's model digest {:016x} differs from rank 0's {:016x}",
                                         round, shared_.digest_at(version_), h.new_digest));
  if (kept_.empty() || h.voters == 0) return;
  const codec::TernarySigns signs = codec::decode_ternary(view);
  std::vector<codec::PacketView> views;
  for (const codec::SignPacket& p : kept_) views.push_back(p.view());
  const std::vector<double> a = methods::agreement_with_vote(views, signs);
  for (std::size_t i = 0; i < recs.size(); ++i) recs[i].agreement = a[i];
}

}  // namespace signfed::sim
