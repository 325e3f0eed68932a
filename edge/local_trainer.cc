#include "edge/local_trainer.h"

#include <algorithm>
#include <stdexcept>

#include "core/codec/step.h"
#include "core/data/rng.h"

namespace signfed::edge {

Shard load_shard(std::shared_ptr<const data::Dataset> train, const std::string& data_dir, const std::string& partition,
                 std::uint32_t index, std::uint32_t count, std::uint64_t data_seed) {
  if (index >= count)
    throw std::invalid_argument("--client-index " + std::to_string(index) + " must be below --num-clients " +
                                std::to_string(count));
  const data::PartitionSpec spec = data::parse_partition(partition, count, data_seed);
  Shard s;
  if (train) {
    s.rows = std::move(data::partition(train->labels, train->classes, spec).at(index));
    s.data = std::move(train);
  } else {
    // Load only this client's shard: a board never holds the whole dataset,
    // and holds its shard packed (about 0.6 of the bytes; expanded per minibatch).
    const std::string dir = data_dir.empty() ? std::string(data::kFashionMnistDir) : data_dir;
    s.data = std::make_shared<const data::Dataset>(data::load_fashion_mnist(
        dir, data::Split::train,
        [&](const std::vector<std::uint8_t>& labels, std::size_t classes) {
          return data::partition(labels, classes, spec).at(index);
        },
        data::PixelStorage::packed));
    s.rows.resize(s.data->rows);
    for (std::uint32_t i = 0; i < s.rows.size(); ++i) s.rows[i] = i;
  }
  if (s.rows.empty())
    throw data::DataError("client " + std::to_string(index) + " got no samples from partition '" + partition +
                          "' over " + std::to_string(count) + " clients");
  return s;
}

Shard local_shard(const data::LocalDataSource& source) {
  Shard s;
  s.data = std::make_shared<const data::Dataset>(data::load_local_data(source));
  s.rows.resize(s.data->rows);
  for (std::uint32_t i = 0; i < s.rows.size(); ++i) s.rows[i] = i;
  return s;
}

LocalTrainer::LocalTrainer(Shard shard, std::unique_ptr<model::Model> model, std::uint64_t data_seed,
                           std::uint32_t client_index)
    : shard_(std::move(shard)),
      model_(std::move(model)),
      sampler_(shard_.rows.size(), data::client_batch_seed(data_seed, client_index)),
      dropout_stream_(data::mix_seed(data_seed, client_index, 0xd50f)) {
  model_->reseed_dropout(dropout_stream_);  // each client its own masks, reproducibly
  if (model_->input_size() != shard_.data->cols)
    throw std::invalid_argument("model " + model_->spec() + " takes " + std::to_string(model_->input_size()) +
                                " inputs but the data has " + std::to_string(shard_.data->cols) + " features");
  const std::size_t n = model_->num_params();
  grad_.assign(n, 0.0f);
  // update_ is sized by the first round of several minibatches or fedavg,
  // saved_ by the first fedavg round or guard (an edge running signsgd never
  // needs those 2n floats).
  // The guard's fixed batch of 64 local samples.
  data::Rng rng(data::mix_seed(data_seed, client_index, 0xf17ed));
  guard_rows_.resize(64);
  for (auto& r : guard_rows_) r = static_cast<std::uint32_t>(rng.below(shard_.rows.size()));
  // The sampler caches the permutations of two epochs: fill both slots now so
  // that a later round starting a new epoch reuses their storage.
  positions_.resize(1);
  sampler_.batch(0, positions_);
  sampler_.batch(shard_.rows.size(), positions_);  // position n: the first sample of epoch 1
}

void LocalTrainer::replace_model(std::unique_ptr<model::Model> model) {
  if (model->num_params() != model_->num_params() || model->input_size() != model_->input_size())
    throw std::invalid_argument("replace_model: " + model->spec() + " does not match " + model_->spec());
  model_ = std::move(model);
  model_->reseed_dropout(dropout_stream_);
}

double LocalTrainer::rows_gradient(std::span<const std::uint32_t> positions) {
  const data::Dataset& d = *shard_.data;
  const std::size_t cols = d.cols;
  const std::size_t batch = positions.size();
  xbuf_.resize(batch * cols);
  ybuf_.resize(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    const std::uint32_t s = shard_.rows[positions[b]];
    // Gather (bytes scaled by byte_values(), or floats as stored), then the
    // run's transform from Welcome, in place: the same floats as when the
    // dataset was kept as floats.
    const std::span<float> x = std::span(xbuf_).subspan(b * cols, cols);
    d.row(s, x);
    inputs_.apply(x, x);
    ybuf_[b] = d.labels[s];
  }
  return model_->loss_and_grad(std::span(xbuf_).first(batch * cols), std::span(ybuf_).first(batch), batch, grad_);
}

double LocalTrainer::minibatch_gradient(std::uint64_t batch_number, std::uint32_t batch) {
  positions_.resize(batch);
  sampler_.batch(batch_number, positions_);
  return rows_gradient(positions_);
}

double LocalTrainer::compute(const LocalWork& w) {
  const std::uint32_t steps = std::max<std::uint32_t>(w.steps, 1);
  const std::uint32_t batch = std::max<std::uint32_t>(w.batch, 1);
  // Minibatch number round * steps + s of the client's epoch sequence (data/sampler.h).
  const std::uint64_t first_batch = std::uint64_t{w.round} * steps;
  double loss = 0.0;
  const std::span<float> x = model_->params();
  update_is_grad_ = !w.fedavg && steps == 1;
  if (update_is_grad_) {
    // The update is the one gradient, as 0 + g was: adding +0 turns a -0
    // into +0 and keeps every other value, so the bits are those the
    // accumulation below gives (fedsgd sends them as they are).
    loss = minibatch_gradient(first_batch, batch);
    for (float& g : grad_) g += 0.0f;
    return loss;
  }
  update_.resize(x.size());  // allocates in the first round of several minibatches (or fedavg) only
  std::fill(update_.begin(), update_.end(), 0.0f);
  if (w.fedavg) {
    // McMahan et al. 2017: local SGD at the task's local rate on a copy; the
    // update is the pseudo-gradient x_start - x_local (the server steps by its own rate).
    saved_.resize(x.size());  // allocates in the first fedavg round only
    std::copy(x.begin(), x.end(), saved_.begin());
    for (std::uint32_t s = 0; s < steps; ++s) {
      loss += minibatch_gradient(first_batch + s, batch);
      codec::apply_dense_step(x, grad_, w.local_lr);
    }
    for (std::size_t i = 0; i < update_.size(); ++i) update_[i] = saved_[i] - x[i];
    std::copy(saved_.begin(), saved_.end(), x.begin());
  } else {
    for (std::uint32_t s = 0; s < steps; ++s) {
      loss += minibatch_gradient(first_batch + s, batch);
      for (std::size_t i = 0; i < update_.size(); ++i) update_[i] += grad_[i];
    }
    if (steps > 1)
      for (float& a : update_) a /= static_cast<float>(steps);
  }
  return loss / steps;
}

LocalTrainer::ClientState LocalTrainer::client_state(Shard shard, std::uint64_t data_seed, std::uint32_t client_index) {
  ClientState c{std::move(shard), data::EpochSampler(1, 0), data::mix_seed(data_seed, client_index, 0xd50f), {}};
  const std::size_t n = c.shard.rows.size();
  c.sampler = data::EpochSampler(n, data::client_batch_seed(data_seed, client_index));
  data::Rng rng(data::mix_seed(data_seed, client_index, 0xf17ed));  // as the constructor's guard batch
  c.guard_rows.resize(64);
  for (auto& r : c.guard_rows) r = static_cast<std::uint32_t>(rng.below(n));
  std::uint32_t pos = 0;  // fill both cached epochs now, as the constructor does
  c.sampler.batch(0, std::span(&pos, 1));
  c.sampler.batch(n, std::span(&pos, 1));
  return c;
}

void LocalTrainer::swap_client(ClientState& c) {
  std::swap(shard_, c.shard);
  std::swap(sampler_, c.sampler);
  std::swap(guard_rows_, c.guard_rows);
  const std::uint64_t mine = model_->dropout_position();
  model_->reseed_dropout(c.dropout_position);
  c.dropout_position = mine;
}

LocalTrainer::GuardLosses LocalTrainer::guard_losses(std::span<const float> before) {
  GuardLosses g;
  g.after = rows_gradient(guard_rows_);
  const std::span<float> x = model_->params();
  saved_.resize(x.size());  // allocates in the first guarded round only
  std::copy(x.begin(), x.end(), saved_.begin());
  std::copy(before.begin(), before.end(), x.begin());
  g.before = rows_gradient(guard_rows_);
  std::copy(saved_.begin(), saved_.end(), x.begin());
  return g;
}

}  // namespace signfed::edge
