#include "tools/sim/spb.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/rng.h"
#include "tools/sim/betainc.h"

namespace signfed::sim {

SpbProbe::SpbProbe(const std::string& model_spec, std::shared_ptr<const data::Dataset> train,
                   std::vector<std::vector<std::uint32_t>> shards, std::uint32_t batch, std::uint32_t draws,
                   std::uint64_t seed)
    : model_(model::make_model(model_spec, 0)), train_(std::move(train)), shards_(std::move(shards)),
      batch_(std::max<std::uint32_t>(batch, 1)), draws_(std::max<std::uint32_t>(draws, 1)), seed_(seed) {
  for (const auto& s : shards_) all_.insert(all_.end(), s.begin(), s.end());
  std::sort(all_.begin(), all_.end());
  all_.erase(std::unique(all_.begin(), all_.end()), all_.end());
  const std::size_t n = model_->num_params();
  full_.assign(n, 0.0f);
  g_.assign(n, 0.0f);
  chunk_.assign(n, 0.0f);
  match_.assign(n, 0);
}

double SpbProbe::gradient(std::span<const std::uint32_t> rows, std::span<float> out) {
  // Mean gradient over rows, in chunks so scratch stays small; chunk means are
  // combined with weights (double accumulation via the float chunk result).
  constexpr std::size_t kChunk = 2048;
  const std::size_t cols = train_->cols;
  std::vector<double> acc(out.size(), 0.0);
  double loss = 0.0;
  for (std::size_t off = 0; off < rows.size(); off += kChunk) {
    const std::size_t b = std::min(kChunk, rows.size() - off);
    xbuf_.resize(b * cols);
    ybuf_.resize(b);
    for (std::size_t i = 0; i < b; ++i) {
      const std::uint32_t s = rows[off + i];
      std::memcpy(xbuf_.data() + i * cols, train_->features.data() + std::size_t{s} * cols, cols * sizeof(float));
      ybuf_[i] = train_->labels[s];
    }
    loss += model_->loss_and_grad(xbuf_, ybuf_, b, chunk_) * static_cast<double>(b);
    for (std::size_t j = 0; j < out.size(); ++j) acc[j] += static_cast<double>(chunk_[j]) * static_cast<double>(b);
  }
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = static_cast<float>(acc[j] / static_cast<double>(rows.size()));
  return loss / static_cast<double>(rows.size());
}

SpbRow SpbProbe::probe(std::uint32_t round, std::span<const float> params) {
  std::copy(params.begin(), params.end(), model_->params().begin());
  SpbRow row;
  row.round = round;
  row.voters = static_cast<std::uint32_t>(shards_.size());
  row.full_loss = gradient(all_, full_);
  std::fill(match_.begin(), match_.end(), 0u);
  for (std::uint32_t c = 0; c < shards_.size(); ++c) {
    for (std::uint32_t d = 0; d < draws_; ++d) {
      data::Rng rng(data::mix_seed(seed_, data::mix_seed(round, c, d), 0x5b5));
      pick_.resize(batch_);
      for (auto& p : pick_) p = shards_[c][rng.below(shards_[c].size())];
      gradient(pick_, g_);
      for (std::size_t j = 0; j < g_.size(); ++j)
        match_[j] += (full_[j] > 0.0f && g_[j] > 0.0f) || (full_[j] < 0.0f && g_[j] < 0.0f);
    }
  }
  const std::uint32_t n = row.voters * draws_;
  row.samples_per_coord = n;
  // rho takes only n+1 values: tabulate 2 I(rho; l, l) - 1 once.
  std::vector<double> agree(n + 1);
  for (std::uint32_t k = 0; k <= n; ++k) agree[k] = vote_agreement(static_cast<double>(k) / n, row.voters);
  double rho_sum = 0.0;
  std::uint64_t le_half = 0;
  for (std::size_t j = 0; j < full_.size(); ++j) {
    if (full_[j] == 0.0f) continue;
    const double rho = static_cast<double>(match_[j]) / n;
    const double a = std::fabs(static_cast<double>(full_[j]));
    ++row.coords;
    rho_sum += rho;
    le_half += 2 * match_[j] <= n;
    row.l1 += a;
    row.rho_norm += (2.0 * rho - 1.0) * a;
    row.rho_m_norm += agree[match_[j]] * a;
  }
  if (row.coords > 0) {
    row.mean_rho = rho_sum / static_cast<double>(row.coords);
    row.frac_le_half = static_cast<double>(le_half) / static_cast<double>(row.coords);
  }
  return row;
}

}  // namespace signfed::sim
