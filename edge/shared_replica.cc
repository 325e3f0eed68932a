#include "edge/shared_replica.h"

#include <algorithm>
#include <stdexcept>

#include "core/codec/step.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::edge {

SharedReplica::SharedReplica(std::string_view spec, std::uint64_t seed, model::Init init)
    : model_(model::make_model(spec, seed, init)),
      spec_(model_->spec()),
      seed_(seed),
      init_(init),
      n_(model_->num_params()),
      basis_(codec::architecture_basis(spec_)),
      replica_(model_->params(), basis_) {
  digests_.push_back(replica_.digest());
}

std::unique_ptr<model::Model> SharedReplica::make_like() const { return model::make_model(spec_, 0); }

std::size_t SharedReplica::version() const {
  std::lock_guard lock(mu_);
  return digests_.size() - 1;
}

std::uint64_t SharedReplica::digest_at(std::size_t version) const {
  std::lock_guard lock(mu_);
  return digests_.at(version);
}

std::size_t SharedReplica::push_version_locked() {
  digests_.push_back(replica_.digest());
  return digests_.size() - 1;
}

std::optional<std::size_t> SharedReplica::apply(std::size_t from, std::uint32_t round, const codec::PacketView& result,
                                                float step, float mu, bool guarded) {
  std::lock_guard lock(mu_);
  if (auto it = transitions_.find({from, Op::apply, round}); it != transitions_.end()) return it->second;
  if (from != digests_.size() - 1) return std::nullopt;
  if (guarded) replica_.save();
  replica_.apply(result, step, mu);  // throws before changing anything on a bad packet
  const std::size_t to = push_version_locked();
  if (guarded) saved_for_ = to;
  transitions_[{from, Op::apply, round}] = to;
  return to;
}

std::optional<std::size_t> SharedReplica::roll_back(std::size_t from, std::uint32_t round) {
  std::lock_guard lock(mu_);
  if (auto it = transitions_.find({from, Op::roll_back, round}); it != transitions_.end()) return it->second;
  if (from != digests_.size() - 1 || saved_for_ != from) return std::nullopt;
  replica_.roll_back();
  const std::size_t to = push_version_locked();
  transitions_[{from, Op::roll_back, round}] = to;
  return to;
}

std::size_t SharedReplica::install(const core::Replica& snapshot) {
  std::lock_guard lock(mu_);
  const std::uint64_t d = snapshot.digest();
  // A snapshot of a state the replica has passed through (it was sent before
  // the latest result was applied): the client holds that version, as a
  // board would, and catches up by the recorded transitions or resyncs again.
  for (std::size_t v = digests_.size(); v-- > 0;)
    if (digests_[v] == d) return v;
  replica_.assign(snapshot.params(), snapshot.momentum());
  return push_version_locked();
}

bool SharedReplica::copy_params(std::size_t version, std::span<float> out) const {
  std::lock_guard lock(mu_);
  if (version != digests_.size() - 1) return false;
  const std::span<const float> p = replica_.params();
  std::copy(p.begin(), p.end(), out.begin());
  return true;
}

bool SharedReplica::copy_saved_params(std::size_t version, std::span<float> out) const {
  std::lock_guard lock(mu_);
  if (version != saved_for_ || replica_.saved_params().size() != n_) return false;
  std::copy(replica_.saved_params().begin(), replica_.saved_params().end(), out.begin());
  return true;
}

Workbench::Workbench(const SharedReplica& shared, Shard placeholder)
    : trainer(std::make_unique<LocalTrainer>(std::move(placeholder), shared.make_like(), 0, 0)),
      encoder(shared.num_params(), kernels::best_sign_kernels()),
      before(shared.num_params(), 0.0f) {}

bool Workbench::sync(const SharedReplica& shared, std::size_t v) {
  if (version == v) return true;
  if (!shared.copy_params(v, trainer->model().params())) return false;
  version = v;
  return true;
}

bool keeps_error_memory(wire::Method m) { return m == wire::Method::s3gd || m == wire::Method::efsign; }

}  // namespace signfed::edge
