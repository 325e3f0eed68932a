#include "tools/sim/spb.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "core/data/rng.h"

namespace signfed::sim {

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

VoteOutcome vote_outcome(std::span<const Voter> voters, std::uint32_t exact_limit) {
  // Split the voters: deterministic ones only shift the sum S = sum_m v_m.
  std::int64_t shift = 0;
  std::uint64_t random = 0;
  bool span_one = false;  // some random voter can abstain: S's lattice has span 1
  double mean = 0.0, var = 0.0;
  for (const Voter& v : voters) {
    if (!(v.right >= 0.0) || !(v.wrong >= 0.0) || !(v.right + v.wrong <= 1.0 + 1e-12))
      throw std::invalid_argument("vote_outcome: voter probabilities must be >= 0 with right + wrong <= 1");
    if (v.count == 0) continue;
    if (v.right >= 1.0) {
      shift += v.count;
    } else if (v.wrong >= 1.0) {
      shift -= v.count;
    } else if (v.right + v.wrong > 0.0) {
      random += v.count;
      span_one = span_one || v.right + v.wrong < 1.0;
      const double d = v.right - v.wrong;  // E v
      mean += v.count * d;
      var += v.count * (v.right + v.wrong - d * d);  // Var v = E v^2 - (E v)^2
    }
  }
  VoteOutcome out;
  if (random == 0) {
    (shift > 0 ? out.right : shift < 0 ? out.wrong : out.tie) = 1.0;
    return out;
  }
  if (random > exact_limit) {
    // Normal approximation of S, continuity-corrected on its lattice.
    const double mu = static_cast<double>(shift) + mean, sd = std::sqrt(var);
    double lo, hi;  // P(S > 0) ~ P(N > hi), P(S < 0) ~ P(N < lo)
    if (span_one) {
      lo = -0.5, hi = 0.5;
    } else if ((shift + static_cast<std::int64_t>(random)) % 2 != 0) {
      lo = 0.0, hi = 0.0;  // S odd: no tie possible
    } else {
      lo = -1.0, hi = 1.0;  // S even: ties are S = 0, between -2 and 2
    }
    out.right = normal_cdf((mu - hi) / sd);
    out.wrong = normal_cdf((lo - mu) / sd);
    out.tie = std::max(0.0, 1.0 - out.right - out.wrong);
    return out;
  }
  // Exact: distribution of the random voters' sum over [-r, r] (index s + r),
  // one voter at a time: P'(s) = a P(s-1) + b P(s+1) + c P(s) (Poisson-binomial
  // generalised to three outcomes).
  const std::size_t r = random;
  thread_local std::vector<double> cur, nxt;  // index s + r + 1: one zero of padding each side
  cur.assign(2 * r + 3, 0.0);
  nxt.assign(2 * r + 3, 0.0);
  cur[r + 1] = 1.0;
  std::size_t k = 0;  // current support [-k, k]; zeros outside it
  for (const Voter& v : voters) {
    if (v.count == 0 || v.right >= 1.0 || v.wrong >= 1.0 || v.right + v.wrong <= 0.0) continue;
    const double a = v.right, b = v.wrong, c = 1.0 - v.right - v.wrong;
    for (std::uint32_t n = 0; n < v.count; ++n) {
      ++k;
      for (std::size_t s = r + 1 - k; s <= r + 1 + k; ++s) nxt[s] = a * cur[s - 1] + b * cur[s + 1] + c * cur[s];
      std::swap(cur, nxt);
    }
  }
  for (std::size_t s = 1; s <= 2 * r + 1; ++s) {
    const std::int64_t total = static_cast<std::int64_t>(s) - static_cast<std::int64_t>(r + 1) + shift;
    (total > 0 ? out.right : total < 0 ? out.wrong : out.tie) += cur[s];
  }
  return out;
}

SignTally::SignTally(std::span<const double> g, std::uint32_t voters, std::uint32_t draws)
    : g_(g.begin(), g.end()), voters_(voters), draws_(draws) {
  if (voters == 0) throw std::invalid_argument("SignTally: needs at least one voter");
  if (draws == 0 || draws > 65535) throw std::invalid_argument("SignTally: draws must be in [1, 65535]");
  const std::uint64_t types = (std::uint64_t{draws} + 1) * (std::uint64_t{draws} + 2) / 2;
  hist_mode_ = types < voters;
  types_ = hist_mode_ ? static_cast<std::uint32_t>(types) : 0;
  if (hist_mode_) {
    for (std::uint32_t r = 0; r <= draws; ++r)
      for (std::uint32_t w = 0; r + w <= draws; ++w) {
        type_right_.push_back(r);
        type_wrong_.push_back(w);
      }
  }
  const std::size_t d = g_.size();
  cur_right_.assign(d, 0);
  cur_wrong_.assign(d, 0);
  store_.assign(d * (hist_mode_ ? std::size_t{types_} : std::size_t{voters}), 0);
}

std::uint32_t SignTally::type_of(std::uint32_t right, std::uint32_t wrong) const {
  // Histogram: types ordered by #right, then #wrong (triangular index).
  // Codes: right * (D + 1) + wrong, < 2^32 for D <= 65535.
  if (hist_mode_) return right * (draws_ + 1) - right * (right - 1) / 2 + wrong;
  return right * (draws_ + 1) + wrong;
}

void SignTally::add_draw(std::span<const float> ghat) {
  if (ghat.size() != g_.size()) throw std::invalid_argument("SignTally::add_draw: gradient size differs from g");
  if (draws_done_ == draws_) throw std::logic_error("SignTally::add_draw: more than D draws for one voter");
  if (voters_done_ == voters_) throw std::logic_error("SignTally::add_draw: all voters already ended");
  for (std::size_t j = 0; j < g_.size(); ++j) {
    if (g_[j] == 0.0) continue;
    const float s = ghat[j];
    if (!(s > 0.0f) && !(s < 0.0f)) continue;  // 0 (or NaN): abstains, sign 0 = 0 (footnote 2)
    ++((s > 0.0f) == (g_[j] > 0.0) ? cur_right_[j] : cur_wrong_[j]);
  }
  ++draws_done_;
}

void SignTally::end_voter() {
  if (draws_done_ != draws_) throw std::logic_error("SignTally::end_voter: a voter needs exactly D draws");
  const std::size_t d = g_.size();
  for (std::size_t j = 0; j < d; ++j) {
    if (g_[j] == 0.0) continue;
    const std::uint32_t t = type_of(cur_right_[j], cur_wrong_[j]);
    if (hist_mode_)
      ++store_[j * types_ + t];
    else
      store_[std::size_t{voters_done_} * d + j] = t;
  }
  std::fill(cur_right_.begin(), cur_right_.end(), 0u);
  std::fill(cur_wrong_.begin(), cur_wrong_.end(), 0u);
  draws_done_ = 0;
  ++voters_done_;
}

void SignTally::finish(SpbRow& row) const {
  if (voters_done_ != voters_) throw std::logic_error("SignTally::finish: not every voter has ended");
  const std::size_t d = g_.size();
  const double dd = draws_;
  row.voters = voters_;
  row.samples_per_coord = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(std::uint64_t{voters_} * draws_, std::numeric_limits<std::uint32_t>::max()));
  row.coords = 0;
  row.l1 = row.rho_norm = row.rho_m_norm = 0.0;
  double rho_sum = 0.0, right_sum = 0.0, tie_sum = 0.0, abstain = 0.0;
  std::uint64_t le_half = 0, vote_le_half = 0, client_le_half = 0;
  std::vector<Voter> vs;
  for (std::size_t j = 0; j < d; ++j) {
    if (g_[j] == 0.0) continue;
    vs.clear();
    std::uint64_t n_right = 0, n_wrong = 0;  // pooled over voters and draws
    auto add = [&](std::uint32_t r, std::uint32_t w, std::uint32_t count) {
      n_right += std::uint64_t{count} * r;
      n_wrong += std::uint64_t{count} * w;
      client_le_half += r <= w ? count : 0;  // rho_{m,i} <= 1/2 (1/2 when always abstaining)
      vs.push_back({r / dd, w / dd, count});
    };
    if (hist_mode_) {
      for (std::uint32_t t = 0; t < types_; ++t)
        if (const std::uint32_t c = store_[j * types_ + t]; c != 0) add(type_right_[t], type_wrong_[t], c);
    } else {
      for (std::uint32_t m = 0; m < voters_; ++m) {
        const std::uint32_t t = store_[std::size_t{m} * d + j];
        add(t / (draws_ + 1), t % (draws_ + 1), 1);
      }
    }
    const double a = std::fabs(g_[j]);
    // Pooled rho_i, abstentions excluded (1/2 when every draw abstained).
    const double rho = n_right + n_wrong > 0 ? static_cast<double>(n_right) / static_cast<double>(n_right + n_wrong) : 0.5;
    const VoteOutcome v = vote_outcome(vs);
    ++row.coords;
    row.l1 += a;
    rho_sum += rho;
    le_half += n_right <= n_wrong;
    row.rho_norm += (2.0 * rho - 1.0) * a;       // Safaryan Def. 1
    row.rho_m_norm += (v.right - v.wrong) * a;  // Def. 2 generalised: E[sign(vote) sign g_i] |g_i| (B.7)
    right_sum += v.right;
    tie_sum += v.tie;
    vote_le_half += v.right - v.wrong <= 1e-12;  // tolerance: symmetric voters give rounding-level differences
    abstain += static_cast<double>(std::uint64_t{voters_} * draws_ - n_right - n_wrong);
  }
  row.frac_le_half = row.mean_rho = row.client_frac_le_half = row.vote_frac_le_half = 0.0;
  row.mean_vote_right = row.mean_vote_tie = row.abstain_frac = 0.0;
  if (row.coords > 0) {
    const double n = static_cast<double>(row.coords);
    row.mean_rho = rho_sum / n;
    row.frac_le_half = static_cast<double>(le_half) / n;
    row.client_frac_le_half = static_cast<double>(client_le_half) / (n * voters_);
    row.vote_frac_le_half = static_cast<double>(vote_le_half) / n;
    row.mean_vote_right = right_sum / n;
    row.mean_vote_tie = tie_sum / n;
    row.abstain_frac = abstain / (n * voters_ * dd);
  }
}

SpbProbe::SpbProbe(const std::string& model_spec, std::shared_ptr<const data::Dataset> train,
                   std::vector<std::vector<std::uint32_t>> shards, std::uint32_t batch, std::uint32_t draws,
                   std::uint64_t seed, data::Standardisation standardisation)
    : model_(model::make_model(model_spec, 0)), train_(std::move(train)), shards_(std::move(shards)),
      batch_(std::max<std::uint32_t>(batch, 1)), draws_(std::max<std::uint32_t>(draws, 1)), seed_(seed),
      standardisation_(standardisation) {
  if (shards_.empty()) throw std::invalid_argument("SpbProbe: no clients");
  for (const auto& s : shards_)
    if (s.empty()) throw std::invalid_argument("SpbProbe: a client's shard is empty");
  if (draws_ > 65535) throw std::invalid_argument("SpbProbe: at most 65535 draws");
  const std::size_t n = model_->num_params();
  g_.assign(n, 0.0f);
  chunk_.assign(n, 0.0f);
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
      // The clients' inputs: standardised rows (a copy when disabled).
      const std::span<float> x(xbuf_.data() + i * cols, cols);
      train_->row(s, x);  // scaled bytes or stored floats
      standardisation_.apply(x, x);
      ybuf_[i] = train_->labels[s];
    }
    loss += model_->loss_and_grad(xbuf_, ybuf_, b, chunk_) * static_cast<double>(b);
    for (std::size_t j = 0; j < out.size(); ++j) acc[j] += static_cast<double>(chunk_[j]) * static_cast<double>(b);
  }
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = static_cast<float>(acc[j] / static_cast<double>(rows.size()));
  return loss / static_cast<double>(rows.size());
}

SpbRow SpbProbe::probe(std::uint32_t round, std::span<const float> params) {
  if (params.size() != model_->num_params()) throw std::invalid_argument("SpbProbe::probe: wrong parameter count");
  std::copy(params.begin(), params.end(), model_->params().begin());
  SpbRow row;
  row.round = round;
  const std::size_t m = shards_.size();
  // Safaryan eq. (1): f = (1/M) sum_m f_m, so g = (1/M) sum_m grad f_m, each
  // the mean over the client's whole shard (not the union's mean when shard
  // sizes differ).
  full_.assign(model_->num_params(), 0.0);
  double loss = 0.0;
  for (const auto& shard : shards_) {
    loss += gradient(shard, g_);
    for (std::size_t j = 0; j < full_.size(); ++j) full_[j] += static_cast<double>(g_[j]);
  }
  for (double& x : full_) x /= static_cast<double>(m);
  row.full_loss = loss / static_cast<double>(m);

  SignTally tally(full_, static_cast<std::uint32_t>(m), draws_);
  for (std::uint32_t c = 0; c < m; ++c) {
    for (std::uint32_t d = 0; d < draws_; ++d) {
      data::Rng rng(data::mix_seed(seed_, data::mix_seed(round, c, d), 0x5b5));
      pick_.resize(batch_);
      for (auto& p : pick_) p = shards_[c][rng.below(shards_[c].size())];
      gradient(pick_, g_);
      tally.add_draw(g_);
    }
    tally.end_voter();
  }
  tally.finish(row);
  return row;
}

}  // namespace signfed::sim
