// The coordinator's central test set (--eval-every, unless --no-test):
// loaded, checked against the model and widened to float32 (it is scored as
// one contiguous batch, not gathered per batch as the edge does), then scored
// after evaluated rounds. Shared by signfed-coordinator and the MPI
// simulator's rank 0; each applies the clients' input transform itself (the
// coordinator's may only be known once the clients have joined).
#pragma once

#include <cstddef>
#include <string>

#include "coordinator/round_log.h"
#include "core/data/dataset.h"
#include "core/model/model.h"

namespace signfed::coord {

// Fashion-MNIST's test split from data_dir, or test_file (+ test_labels,
// data::load_local_data). Throws data::DataError naming the set when its
// features or classes do not fit the model.
data::Dataset load_central_test(const std::string& data_dir, const std::string& test_file,
                                const std::string& test_labels, const model::Model& model);

// The model's accuracy and mean loss on the first `limit` rows (0: all) of
// test, written to row.test_accuracy and row.test_loss, and returned.
model::EvalResult score_central_test(model::Model& model, const data::Dataset& test, std::size_t limit, RoundRow& row);

}  // namespace signfed::coord
