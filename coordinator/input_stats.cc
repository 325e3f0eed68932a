// Federated input statistics (--input-stats federated): the moments each
// client sends in Join (count, per-feature sums and sums of squares of its
// training rows) are checked and kept per client name; when the run starts
// they are added up in name order into one per-feature Standardisation, which
// runs.config stores and every client receives (InputStats to those already
// joined, the vectors in every later Welcome). No sample leaves a board.
#include <cmath>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "coordinator/coordinator.h"
#include "core/data/moments.h"
#include "schema/wire.h"

namespace signfed::coord {

namespace fb = flatbuffers;

bool Coordinator::federated_stats() const {
  return cfg_.standardise && cfg_.input_stats == CoordinatorConfig::InputStats::federated;
}

bool Coordinator::input_stats_pending() const { return federated_stats() && cfg_.input_mean_per_feature.empty(); }

std::string Coordinator::moments_refusal(const wire::Join& m) const {
  const auto* sum = m.moments_sum();
  const auto* sum_sq = m.moments_sum_sq();
  const bool sent = (sum && sum->size() > 0) || (sum_sq && sum_sq->size() > 0) || m.moments_count() > 0;
  // Required even after the statistics are fixed: a client that sends none is
  // one that cannot read the per-feature vectors either (same protocol
  // version), and would train on inputs the others never see.
  if (!sent)
    return "this run standardises inputs with federated statistics (--input-stats federated): the Join must carry "
           "the moments of the client's training rows (moments_count, moments_sum, moments_sum_sq); upgrade "
           "signfed-edge";
  const std::size_t f = model_->input_size();
  if (!sum || !sum_sq || sum->size() != f || sum_sq->size() != f)
    return fmt::format("input moments of {} sums and {} sums of squares; the model takes {} features: send one "
                       "sum and one sum of squares per feature",
                       sum ? sum->size() : 0, sum_sq ? sum_sq->size() : 0, f);
  if (m.moments_count() > m.samples())
    return fmt::format("input moments over {} rows, more than the {} training samples the Join reports",
                       m.moments_count(), m.samples());
  for (std::size_t j = 0; j < f; ++j) {
    if (!std::isfinite(sum->Get(j)) || !std::isfinite(sum_sq->Get(j)))
      return fmt::format("input moments of feature {} are not finite (sum {}, sum of squares {})", j, sum->Get(j),
                         sum_sq->Get(j));
    if (sum_sq->Get(j) < 0.0)
      return fmt::format("input moments of feature {} have a negative sum of squares ({})", j, sum_sq->Get(j));
  }
  return {};
}

void Coordinator::keep_moments(const std::string& name, const wire::Join& m) {
  if (!input_stats_pending() || !m.moments_sum() || m.moments_sum()->size() == 0) return;
  // Keyed by name: a rejoin replaces that board's moments, never adds them twice.
  data::FeatureMoments& k = join_moments_[name];
  k.count = m.moments_count();
  k.sum.assign(m.moments_sum()->begin(), m.moments_sum()->end());
  k.sum_sq.assign(m.moments_sum_sq()->begin(), m.moments_sum_sq()->end());
}

void Coordinator::fix_input_stats() {
  if (!input_stats_pending()) return;
  // std::map iterates in name order: the sum (and its rounding) does not
  // depend on the order in which the boards joined.
  data::FeatureMoments total;
  for (const auto& [name, m] : join_moments_) total = data::combine(total, m);
  if (total.count == 0)
    throw std::runtime_error(
        "--input-stats federated: the joined clients hold no training rows to compute input statistics from; "
        "give the boards data, or use --input-stats dataset");
  const data::Standardisation st = data::standardisation_from(total, data::MomentPooling::per_feature);
  cfg_.input_mean_per_feature = st.feature_mean;
  cfg_.input_std_per_feature = st.feature_std;
  inputs_ = st;
  log_->update_config(run_id_, to_json(cfg_).dump());
  log_->log_event(run_id_, unix_s(), std::nullopt, "input_stats",
                  fmt::format("federated per-feature statistics from {} clients, {} rows", join_moments_.size(),
                              total.count));
  join_moments_.clear();
  if (test_) {  // the central test set takes the clients' transform too
    auto test = std::make_shared<data::Dataset>(*test_);
    inputs_.apply(test->features, test->features);
    test_ = std::move(test);
  }
  fb::FlatBufferBuilder fbb(64 + 8 * st.feature_mean.size());
  const auto bytes = wire::finish_envelope(
      fbb, wire::CreateInputStats(fbb, fbb.CreateVector(st.feature_mean), fbb.CreateVector(st.feature_std)));
  for (const std::string& p : registry_.connected_peers()) send(p, bytes);
  if (!cfg_.quiet)
    fmt::print("input statistics: per feature, from {} rows of the joined clients (--input-stats federated)\n",
               total.count);
}

}  // namespace signfed::coord
