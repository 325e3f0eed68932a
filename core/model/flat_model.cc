#include "core/model/flat_model.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/model/internal/layers.h"

namespace signfed::model {

double FlatModel::loss_and_grad(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t batch,
                                std::span<float> grad) {
  if (batch == 0) throw std::invalid_argument(std::string(name_) + ": loss_and_grad needs batch >= 1");
  if (grad.size() != params_.size()) {
    throw std::invalid_argument(std::string(name_) + ": grad has " + std::to_string(grad.size()) +
                                " floats, model has " + std::to_string(params_.size()) + " parameters");
  }
  detail::check_batch(x.size(), y.size(), batch, input_size());
  detail::check_labels(y.data(), batch, num_classes());
  reserve_batch(batch);
  forward(x.data(), batch);
  return backward(x.data(), y.data(), batch, grad.data()) / static_cast<double>(batch);
}

void FlatModel::reserve_batch(std::size_t batch) {
  if (batch <= capacity_) return;
  allocate_scratch(batch);
  capacity_ = batch;
}

std::size_t FlatModel::prepare_eval(std::size_t n) {
  const std::size_t chunk = std::max(capacity_, kMinEvalChunk);
  reserve_batch(std::min(chunk, n));
  return chunk;
}

}  // namespace signfed::model
