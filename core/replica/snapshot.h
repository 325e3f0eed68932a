// Model snapshots: a replica sent in ModelSnapshot chunks (FORMAT.md
// "Snapshots") and put back together on the other side.
//
// A snapshot repairs a replica that joined late, missed a result or failed a
// digest check. The sender cuts parameters (and momentum, when the replica
// has it) into chunks of wire::kSnapshotChunkParams floats; the receiver
// accepts chunks in any order and installs the model only when every chunk
// has arrived and the digest of the whole matches the one each chunk carries.
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/replica/replica.h"
#include "schema/wire.h"

namespace signfed::core {

// Calls send(envelope) once per chunk of the replica's snapshot, labelled
// `round` (the model before that round's update). Returns the bytes sent as
// the sum of what send() returns.
std::uint64_t send_snapshot(const Replica& replica, std::uint32_t round, const std::string& model_spec,
                            const std::function<std::size_t(std::span<const std::uint8_t>)>& send);

class SnapshotAssembler {
 public:
  enum class Offer {
    malformed,        // inconsistent with the model (size, chunk count, range): ignored
    partial,          // stored; more chunks to come
    complete,         // every chunk arrived and the digest matched: install_into() now
    digest_mismatch,  // every chunk arrived but the digest did not match: discarded
  };

  // basis: codec::architecture_basis of the model's spec, as the replica's.
  SnapshotAssembler(std::size_t num_params, std::uint64_t basis) : n_(num_params), basis_(basis) {}

  // A chunk of another snapshot (round, digest or chunk count differ) starts over.
  Offer offer(const wire::ModelSnapshot& chunk);
  // After Offer::complete: the snapshot's round; install_into() copies the
  // model into the replica and resets the assembler.
  std::uint32_t round() const { return round_; }
  void install_into(Replica& replica);
  bool in_progress() const { return !got_.empty(); }

 private:
  std::size_t n_;
  std::uint64_t basis_;
  std::uint32_t round_ = 0, chunks_ = 0;
  std::uint64_t digest_ = 0;
  std::vector<bool> got_;
  std::vector<float> params_, momentum_;
};

}  // namespace signfed::core
