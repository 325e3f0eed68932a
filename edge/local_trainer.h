// One edge client's local training: its shard of the data, the minibatch
// sequence (core/data/sampler.h), the model, and the round's update vector.
//
// Memory: every buffer is owned here and sized at construction or on the
// first round of a given batch size (the fedavg/guard copy of the parameters
// and the update's accumulator: on the first round that needs them; a round
// of one minibatch, e.g. signsgd's, returns the gradient itself as the update,
// so an edge running it holds 2 model-sized vectors here, not 3: parameters
// and gradient, docs/perf-edge.md); compute() and guard_losses() then
// allocate nothing of ours (tests/edge/local_trainer_test.cc counts malloc
// calls). The shard's features stay in their stored type (bytes for images,
// data/dataset.h) and are scaled into a float batch as each minibatch is
// gathered.
// The caller reads the update through update(), valid until the next
// compute() or guard_losses().
//
// Not thread-safe; one trainer per client. Many trainers may share one
// read-only Dataset.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/local_data.h"
#include "core/data/sampler.h"
#include "core/data/standardise.h"
#include "core/model/model.h"

namespace signfed::edge {

// A client's rows of a dataset.
struct Shard {
  std::shared_ptr<const data::Dataset> data;
  std::vector<std::uint32_t> rows;  // indices into data, non-empty
};

// The shard of client `index` of `count` under `partition` (data/dataset.h).
// With `train` the shard is cut from it; else only this client's rows are
// loaded from data_dir (empty: Debian's Fashion-MNIST), as a board does.
// Throws data::DataError or std::invalid_argument saying what to change.
Shard load_shard(std::shared_ptr<const data::Dataset> train, const std::string& data_dir, const std::string& partition,
                 std::uint32_t index, std::uint32_t count, std::uint64_t data_seed);

// All rows of a board's own data file (core/data/local_data.h). Throws
// data::DataError naming the file and what to do.
Shard local_shard(const data::LocalDataSource& source);

// One round of local work, from the task's method parameters.
struct LocalWork {
  std::uint32_t round = 0;
  std::uint32_t steps = 1;  // local steps, >= 1
  std::uint32_t batch = 1;  // samples per step, >= 1
  bool fedavg = false;      // local SGD, update = x_start - x_local
  float local_lr = 0.0f;    // fedavg's local step size, > 0 and finite
};

class LocalTrainer {
 public:
  // The model's input size must equal the data's columns (else
  // std::invalid_argument). data_seed and client_index seed the minibatch
  // sequence and the guard batch, as the plan exporter expects.
  LocalTrainer(Shard shard, std::unique_ptr<model::Model> model, std::uint64_t data_seed, std::uint32_t client_index);

  model::Model& model() { return *model_; }
  const model::Model& model() const { return *model_; }
  // Swaps in a model of the same spec (re-initialised from a Welcome's seed).
  void replace_model(std::unique_ptr<model::Model> model);
  // The run's input transform, from Welcome.
  void set_inputs(const data::Standardisation& inputs) { inputs_ = inputs; }
  std::size_t shard_size() const { return shard_.rows.size(); }
  const data::Dataset& data() const { return *shard_.data; }

  // Computes the round's update into update(): the mean minibatch gradient
  // over w.steps minibatches (numbers round*steps + s of the epoch sequence);
  // fedavg: x_start - x_local after w.steps local SGD steps at w.local_lr,
  // with the model's parameters restored. Returns the mean training loss.
  double compute(const LocalWork& w);
  std::span<const float> update() const { return update_is_grad_ ? grad_ : update_; }

  // Safaryan Alg. 1 Option 2: the loss on a fixed batch of 64 local samples at
  // the parameters `before` and at the model's current ones (which it keeps).
  struct GuardLosses {
    double before = 0.0, after = 0.0;
  };
  GuardLosses guard_losses(std::span<const float> before);

  // Simulation (edge/shared_replica.h): what of a trainer is one client's
  // own: its shard, minibatch sequence, guard batch and dropout position.
  // One trainer per worker thread trains many clients in turn: swap_client
  // exchanges the trainer's with `c` (O(1) but for the dropout reseed), so
  // swapping in, computing and swapping back out continues each client's
  // sequences exactly as its own trainer would.
  struct ClientState {
    Shard shard;
    data::EpochSampler sampler;
    std::uint64_t dropout_position = 0;
    std::vector<std::uint32_t> guard_rows;
  };
  // The state a LocalTrainer(shard, model, data_seed, client_index) starts with.
  static ClientState client_state(Shard shard, std::uint64_t data_seed, std::uint32_t client_index);
  void swap_client(ClientState& c);

 private:
  // Mean loss and gradient (into grad_) over the shard rows at these shard positions.
  double rows_gradient(std::span<const std::uint32_t> positions);
  double minibatch_gradient(std::uint64_t batch_number, std::uint32_t batch);

  Shard shard_;
  std::unique_ptr<model::Model> model_;
  data::EpochSampler sampler_;
  std::uint64_t dropout_stream_;  // this client's dropout masks (model.h reseed_dropout)
  data::Standardisation inputs_;
  std::vector<std::uint32_t> positions_, guard_rows_;
  std::vector<float> grad_, update_, saved_, xbuf_;
  bool update_is_grad_ = true;  // the last compute() took one minibatch: update() is grad_ (update_ unsized)
  std::vector<std::uint8_t> ybuf_;
};

}  // namespace signfed::edge
