#include "coordinator/central_test.h"

#include <algorithm>
#include <span>

#include <fmt/core.h>

#include "core/data/local_data.h"

namespace signfed::coord {

data::Dataset load_central_test(const std::string& data_dir, const std::string& test_file,
                                const std::string& test_labels, const model::Model& model) {
  data::Dataset test = test_file.empty() ? data::load_fashion_mnist(data_dir, data::Split::test)
                                         : data::load_local_data({test_file, test_labels, {}});
  if (test.cols != model.input_size() || test.classes > model.num_classes())
    throw data::DataError(fmt::format("test set {}: {} features and {} classes, but the model takes {} inputs and {} "
                                      "classes",
                                      test_file.empty() ? data_dir : test_file, test.cols, test.classes,
                                      model.input_size(), model.num_classes()));
  data::widen(test);
  return test;
}

model::EvalResult score_central_test(model::Model& model, const data::Dataset& test, std::size_t limit, RoundRow& row) {
  const std::size_t n = limit > 0 ? std::min(limit, test.rows) : test.rows;
  const model::EvalResult e =
      model.evaluate(std::span(test.features).first(n * test.cols), std::span(test.labels).first(n), n);
  row.test_accuracy = e.accuracy;
  row.test_loss = e.loss;
  return e;
}

}  // namespace signfed::coord
