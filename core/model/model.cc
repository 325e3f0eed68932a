#include "core/model/model.h"

#include "core/model/internal/layers.h"

namespace signfed::model {

double Model::score(const float* outputs, const std::uint8_t* y, std::size_t b, std::size_t* correct) {
  const detail::XentResult r = detail::softmax_xent(outputs, y, num_classes(), b, nullptr);
  *correct = r.correct;
  return r.loss_sum;
}

EvalResult Model::evaluate(std::span<const float> x, std::span<const std::uint8_t> y, std::size_t n) {
  if (n == 0) return {};
  detail::check_batch(x.size(), y.size(), n, input_size());
  detail::check_labels(y.data(), n, num_classes());
  const std::size_t chunk = prepare_eval(n);
  double loss = 0.0;
  std::size_t correct = 0;
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t b = std::min(chunk, n - start);
    std::size_t right = 0;
    loss += score(logits(x.data() + start * input_size(), b), y.data() + start, b, &right);
    correct += right;
  }
  return {loss / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

}  // namespace signfed::model
