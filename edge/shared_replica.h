// What many in-process edge clients (the simulator, tools/sim/sim.h) share:
// one read-only model replica for the whole run, and one Workbench of
// training buffers per worker thread.
//
// Why it is sound: every client applies the same broadcast result to the same
// parameters with the same IEEE operations (core/replica/replica.h), so all
// in-step replicas are bit-identical and one copy stands for all of them.
// What stays per client is what differs between clients: the shard and its
// minibatch sequence, the dropout position (LocalTrainer::ClientState), the
// error memory of s3gd / efsign, the socket, and which version of the shared
// replica the client holds (below).
//
// Versions. The replica moves through versions 0, 1, 2, ...: version 0 is
// make_model(spec, seed, init), and each later version is one transition (a
// round's result, a guarded step's roll-back, or a snapshot install), recorded
// with its digest. A client keeps a version number instead of a copy of the
// parameters; its digest is digest_at(version). Transitions are keyed by
// (from version, operation, round): the first client applying round r's
// result from version v performs it, every later client at v applying the
// same round gets the same new version (the result is applied exactly once
// per round, by whichever client comes first). A client at an older version
// (it ignored a result while resyncing, or is a crashed client's new
// instance) is refused (nullopt) and resyncs by snapshot as a board would;
// the snapshot replaces the shared parameters only if it equals no version
// (the coordinator is ahead of every client: its state wins).
//
// Only the current version's parameters exist (and, after a guarded apply,
// the saved ones). A client whose version is no longer current when it starts
// computing (its worker fell a round behind) cannot compute; see
// Workbench::sync.
//
// Thread-safety: SharedReplica is safe for concurrent use (one mutex; applies
// and parameter copies run under it). A Workbench belongs to one thread.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/codec/packet.h"
#include "core/methods/encoder.h"
#include "core/model/model.h"
#include "core/replica/replica.h"
#include "edge/local_trainer.h"

namespace signfed::edge {

class SharedReplica {
 public:
  // Version 0 is make_model(spec, seed, init), the run's initial model (the
  // coordinator's Welcome must name the same seed and init). Throws
  // std::invalid_argument for a bad spec.
  SharedReplica(std::string_view spec, std::uint64_t seed, model::Init init);

  const std::string& spec() const { return spec_; }  // canonical (Model::spec)
  std::uint64_t seed() const { return seed_; }
  model::Init init() const { return init_; }
  std::size_t num_params() const { return n_; }
  std::uint64_t basis() const { return basis_; }
  // A fresh model of the same architecture (for a Workbench's trainer).
  std::unique_ptr<model::Model> make_like() const;

  std::size_t version() const;
  // Digest of a version that existed (version <= version()).
  std::uint64_t digest_at(std::size_t version) const;

  // Round `round`'s result applied to version `from` (core::Replica::apply;
  // guarded: save() first). Returns the version after it, or nullopt if
  // `from` is neither current nor already advanced by this same operation.
  // Throws codec::CodecError for a malformed result (nothing changes).
  std::optional<std::size_t> apply(std::size_t from, std::uint32_t round, const codec::PacketView& result, float step,
                                   float mu, bool guarded);
  // The guarded step of `round` refused: roll back (once) from `from`.
  std::optional<std::size_t> roll_back(std::size_t from, std::uint32_t round);
  // A complete snapshot (parameters and momentum in `snapshot`): the latest
  // version whose digest equals it (a snapshot sent before the latest result
  // was applied names an older version; its client catches up or resyncs);
  // installed as a new version only if no version has its digest (the
  // coordinator is ahead of every client: its state wins).
  std::size_t install(const core::Replica& snapshot);

  // Copies the parameters of `version` into out (num_params floats); false if
  // that version is no longer current.
  bool copy_params(std::size_t version, std::span<float> out) const;
  // Copies the parameters saved by the guarded apply that produced `version`; false if none.
  bool copy_saved_params(std::size_t version, std::span<float> out) const;

 private:
  enum class Op : std::uint8_t { apply, roll_back };
  std::size_t push_version_locked();

  std::unique_ptr<model::Model> model_;  // owns the parameters
  std::string spec_;
  std::uint64_t seed_;
  model::Init init_;
  std::size_t n_;
  std::uint64_t basis_;
  mutable std::mutex mu_;
  core::Replica replica_;                // views them; owns momentum and the guard's saved copy
  std::vector<std::uint64_t> digests_;   // per version
  std::map<std::tuple<std::size_t, Op, std::uint32_t>, std::size_t> transitions_;
  std::size_t saved_for_ = std::numeric_limits<std::size_t>::max();  // version a guarded apply produced
};

// One worker thread's training buffers, lent to each of its clients in turn:
// a LocalTrainer (model copy, gradient, update and batch buffers) and an
// UpdateEncoder (its scratch; a client's own error memory is swapped in).
struct Workbench {
  // `placeholder`: any non-empty shard of the run's data (the trainer needs
  // one; clients swap theirs in).
  Workbench(const SharedReplica& shared, Shard placeholder);

  // Brings the trainer's parameters to `version`; false if the shared replica
  // has moved past it (the client fell behind: it cannot compute this round).
  bool sync(const SharedReplica& shared, std::size_t version);

  std::unique_ptr<LocalTrainer> trainer;
  methods::UpdateEncoder encoder;
  std::vector<float> before;  // the guarded step's saved parameters
  std::size_t version = std::numeric_limits<std::size_t>::max();  // what trainer's parameters hold
};

// Whether the method keeps per-client error memory in the encoder (s3gd, efsign).
bool keeps_error_memory(wire::Method m);

}  // namespace signfed::edge
