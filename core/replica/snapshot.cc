#include "core/replica/snapshot.h"

#include <algorithm>

#include "core/codec/step.h"

namespace signfed::core {

namespace fb = flatbuffers;

namespace {
std::uint32_t chunk_count(std::uint64_t n) {
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(1, (n + wire::kSnapshotChunkParams - 1) / wire::kSnapshotChunkParams));
}
}  // namespace

std::uint64_t send_snapshot(const Replica& replica, std::uint32_t round, const std::string& model_spec,
                            const std::function<std::size_t(std::span<const std::uint8_t>)>& send) {
  const auto params = replica.params();
  const auto momentum = replica.momentum();
  const std::uint64_t n = params.size();
  const std::uint64_t digest = replica.digest();
  const std::uint32_t chunks = chunk_count(n);
  std::uint64_t bytes = 0;
  for (std::uint32_t k = 0; k < chunks; ++k) {
    const std::uint64_t off = std::uint64_t{k} * wire::kSnapshotChunkParams;
    const std::uint64_t len = std::min<std::uint64_t>(wire::kSnapshotChunkParams, n - off);
    fb::FlatBufferBuilder fbb(len * 8 + 256);
    auto pv = fbb.CreateVector(params.data() + off, len);
    fb::Offset<fb::Vector<float>> mv;
    if (!momentum.empty()) mv = fbb.CreateVector(momentum.data() + off, len);
    auto s = wire::CreateModelSnapshot(fbb, round, fbb.CreateString(model_spec), n, digest, k, chunks, off, pv, mv);
    bytes += send(wire::finish_envelope(fbb, s));
  }
  return bytes;
}

SnapshotAssembler::Offer SnapshotAssembler::offer(const wire::ModelSnapshot& s) {
  if (s.num_params() != n_ || !s.params() || s.chunks() != chunk_count(n_) || s.chunk() >= s.chunks() ||
      s.offset() != std::uint64_t{s.chunk()} * wire::kSnapshotChunkParams ||
      s.params()->size() != std::min<std::uint64_t>(wire::kSnapshotChunkParams, n_ - s.offset()) ||
      (s.momentum() && s.momentum()->size() != 0 && s.momentum()->size() != s.params()->size()))
    return Offer::malformed;
  if (got_.empty() || digest_ != s.digest() || chunks_ != s.chunks() || round_ != s.round()) {
    round_ = s.round();
    digest_ = s.digest();
    chunks_ = s.chunks();
    got_.assign(chunks_, false);
    params_.assign(n_, 0.0f);
    momentum_.clear();
  }
  const auto off = static_cast<std::ptrdiff_t>(s.offset());
  std::copy(s.params()->begin(), s.params()->end(), params_.begin() + off);
  if (s.momentum() && s.momentum()->size() != 0) {
    if (momentum_.empty()) momentum_.assign(n_, 0.0f);
    std::copy(s.momentum()->begin(), s.momentum()->end(), momentum_.begin() + off);
  }
  got_[s.chunk()] = true;
  if (std::find(got_.begin(), got_.end(), false) != got_.end()) return Offer::partial;
  if (codec::model_digest(params_, basis_) != digest_) {
    got_.clear();
    return Offer::digest_mismatch;
  }
  return Offer::complete;
}

void SnapshotAssembler::install_into(Replica& replica) {
  replica.assign(params_, momentum_);
  got_.clear();
  params_.clear();
  momentum_.clear();
}

}  // namespace signfed::core
