#include "core/model/model.h"

#include "core/model/internal/layers.h"

namespace signfed::model {

EvalResult Model::evaluate(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t n) {
  if (n == 0) return {};
  detail::check_batch(x.size(), y.size(), n, input_size());
  detail::check_labels(y.data(), n, num_classes());
  const std::size_t chunk = prepare_eval(n);
  double loss = 0.0;
  std::size_t correct = 0;
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t b = std::min(chunk, n - start);
    const detail::XentResult r =
        detail::softmax_xent(logits(x.data() + start * input_size(), b), y.data() + start, num_classes(), b, nullptr);
    loss += r.loss_sum;
    correct += r.correct;
  }
  return {loss / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

}  // namespace signfed::model
