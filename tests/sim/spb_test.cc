// Unit tests of the SPB probe (tools/sim/spb.h): the vote's distribution for
// non-identical, abstaining voters against brute force and Lemma 8, the sign
// tally against a naive recount, and the probe's full gradient (eq. (1)) and
// input standardisation on a tiny synthetic dataset.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/standardise.h"
#include "core/model/model.h"
#include "tools/sim/betainc.h"
#include "tools/sim/spb.h"

using namespace signfed::sim;
namespace data = signfed::data;

namespace {

// All 3^M outcomes of M single voters (count 1 each), ties = no move.
VoteOutcome brute_force(const std::vector<Voter>& vs) {
  VoteOutcome o;
  const std::size_t m = vs.size();
  std::size_t total = 1;
  for (std::size_t i = 0; i < m; ++i) total *= 3;
  for (std::size_t code = 0; code < total; ++code) {
    std::size_t c = code;
    double p = 1.0;
    int sum = 0;
    for (std::size_t i = 0; i < m; ++i, c /= 3) {
      const int v = static_cast<int>(c % 3) - 1;  // -1, 0, +1
      p *= v > 0 ? vs[i].right : v < 0 ? vs[i].wrong : 1.0 - vs[i].right - vs[i].wrong;
      sum += v;
    }
    (sum > 0 ? o.right : sum < 0 ? o.wrong : o.tie) += p;
  }
  return o;
}

Voter random_voter(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  switch (rng() % 8) {  // some deterministic voters, some without abstention
    case 0: return {1.0, 0.0};
    case 1: return {0.0, 1.0};
    case 2: return {0.0, 0.0};
    case 3: {
      const double a = u(rng);
      return {a, 1.0 - a};
    }
    default: {
      double a = u(rng), b = u(rng), c = u(rng);
      const double s = a + b + c;
      return {a / s, b / s};
    }
  }
}

std::vector<Voter> random_voters(std::mt19937_64& rng, std::size_t m) {
  std::vector<Voter> vs;
  for (std::size_t i = 0; i < m; ++i) vs.push_back(random_voter(rng));
  return vs;
}

void check_same(const VoteOutcome& a, const VoteOutcome& b, double tol = 1e-12) {
  CHECK(std::fabs(a.right - b.right) <= tol);
  CHECK(std::fabs(a.wrong - b.wrong) <= tol);
  CHECK(std::fabs(a.tie - b.tie) <= tol);
}

}  // namespace

TEST_CASE("vote_outcome equals brute-force enumeration of all 3^M outcomes, M = 1..6") {
  std::mt19937_64 rng(12345);
  for (std::size_t m = 1; m <= 6; ++m)
    for (int rep = 0; rep < 40; ++rep) {
      const std::vector<Voter> vs = random_voters(rng, m);
      const VoteOutcome want = brute_force(vs);
      CAPTURE(m);
      CAPTURE(rep);
      check_same(vote_outcome(vs), want);
      CHECK(std::fabs(want.right + want.wrong + want.tie - 1.0) < 1e-12);
      // Identical voters may be grouped with a count.
      std::vector<Voter> grouped = vs, expanded = vs;
      grouped[0].count = 2;
      expanded.push_back(vs[0]);
      check_same(vote_outcome(grouped), brute_force(expanded));
    }
}

TEST_CASE("identical voters without abstention: P(right) - P(wrong) = 2 I(rho, l, l) - 1 (Lemma 8)") {
  for (double rho : {0.1, 0.3, 0.5, 0.55, 0.8, 0.97})
    for (std::uint32_t m = 1; m <= 41; ++m) {
      CAPTURE(rho);
      CAPTURE(m);
      const std::uint32_t l = (m + 1) / 2;
      const double want = 2.0 * incomplete_beta(rho, l, l) - 1.0;
      const std::vector<Voter> one_group = {{rho, 1.0 - rho, m}};
      const std::vector<Voter> separate(m, Voter{rho, 1.0 - rho, 1});
      for (const auto& vs : {one_group, separate}) {
        const VoteOutcome o = vote_outcome(vs);
        CHECK(o.right - o.wrong == doctest::Approx(want).epsilon(1e-10));
        CHECK(o.right - o.wrong == doctest::Approx(vote_agreement(rho, m)).epsilon(1e-10));
        if (m % 2 == 1) {  // odd M: no ties, P(right) = I(rho; l, l)
          CHECK(o.tie == 0.0);
          CHECK(o.right == doctest::Approx(incomplete_beta(rho, l, l)).epsilon(1e-10));
        }
      }
    }
}

TEST_CASE("a voter that always abstains changes nothing") {
  std::mt19937_64 rng(99);
  for (std::size_t m = 1; m <= 7; ++m)
    for (int rep = 0; rep < 20; ++rep) {
      const std::vector<Voter> vs = random_voters(rng, m);
      std::vector<Voter> with = vs;
      with.insert(with.begin() + static_cast<std::ptrdiff_t>(rng() % (m + 1)), Voter{0.0, 0.0, 3});
      check_same(vote_outcome(with), vote_outcome(vs), 0.0);
    }
  CHECK(vote_outcome(std::vector<Voter>{}).tie == 1.0);
  CHECK(vote_outcome(std::vector<Voter>{{0.0, 0.0, 5}}).tie == 1.0);
}

TEST_CASE("vote_outcome: the normal approximation for many voters is close to the exact convolution") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int kind = 0; kind < 3; ++kind) {  // 0: with abstention; 1, 2: +-1 only, odd and even count
    const std::uint32_t r = kind == 2 ? kExactVoteLimit + 2 : kExactVoteLimit + 1;  // just above the limit
    std::vector<Voter> vs;
    for (std::uint32_t i = 0; i < r; ++i) {
      // Non-identical voters, E v slightly positive on average, the sum spread.
      const double c = kind == 0 ? 0.4 * u(rng) : 0.0;
      const double a = (1.0 - c) * (0.455 + 0.1 * u(rng));
      vs.push_back({a, 1.0 - c - a});
    }
    vs.push_back({1.0, 0.0, 2});  // deterministic shift of +2
    const VoteOutcome exact = vote_outcome(vs, 100000), approx = vote_outcome(vs);
    check_same(approx, vote_outcome(vs, 0), 0.0);  // the default limit chose the approximation
    CAPTURE(kind);
    CHECK(exact.right > 0.2);
    CHECK(exact.wrong > 0.2);
    if (kind != 1) CHECK(exact.tie > 0.005);
    check_same(exact, approx, 3e-4);
    if (kind == 1) CHECK(exact.tie < 1e-15);  // odd sum of +-1: no ties
  }
  CHECK_THROWS(vote_outcome(std::vector<Voter>{{0.7, 0.4}}));
  CHECK_THROWS(vote_outcome(std::vector<Voter>{{-0.1, 0.4}}));
}

namespace {

// Naive recount of what SignTally::finish reports, from raw draws[m][k][j].
SpbRow naive_row(const std::vector<double>& g, const std::vector<std::vector<std::vector<float>>>& draws) {
  SpbRow row;
  const std::size_t m = draws.size(), dn = draws[0].size();
  double rho_sum = 0, right_sum = 0, tie_sum = 0, abst = 0;
  std::size_t le = 0, vle = 0, cle = 0;
  for (std::size_t j = 0; j < g.size(); ++j) {
    if (g[j] == 0.0) continue;
    std::vector<Voter> vs;
    double nr = 0, nw = 0;
    for (std::size_t c = 0; c < m; ++c) {
      double r = 0, w = 0;
      for (std::size_t k = 0; k < dn; ++k) {
        const float x = draws[c][k][j];
        if (x == 0.0f) continue;
        ((x > 0) == (g[j] > 0) ? r : w) += 1;
      }
      vs.push_back({r / dn, w / dn});
      nr += r;
      nw += w;
      cle += r <= w;
      abst += dn - r - w;
    }
    const double rho = nr + nw > 0 ? nr / (nr + nw) : 0.5;
    const VoteOutcome v = brute_force(vs);
    const double a = std::fabs(g[j]);
    ++row.coords;
    row.l1 += a;
    row.rho_norm += (2 * rho - 1) * a;
    row.rho_m_norm += (v.right - v.wrong) * a;
    rho_sum += rho;
    le += rho <= 0.5;
    vle += v.right <= v.wrong + 1e-12;
    right_sum += v.right;
    tie_sum += v.tie;
  }
  const double n = static_cast<double>(row.coords);
  row.mean_rho = rho_sum / n;
  row.frac_le_half = le / n;
  row.client_frac_le_half = cle / (n * m);
  row.vote_frac_le_half = vle / n;
  row.mean_vote_right = right_sum / n;
  row.mean_vote_tie = tie_sum / n;
  row.abstain_frac = abst / (n * m * dn);
  return row;
}

// The statistics over coordinates of a row (not client_frac_le_half and
// abstain_frac, which count per client and per draw), field by field.
void check_coord_stats(const SpbRow& got, const SpbRow& want, double eps) {
  using Field = double SpbRow::*;
  const std::pair<std::string, Field> stats[] = {
      {"l1", &SpbRow::l1},
      {"rho_norm", &SpbRow::rho_norm},
      {"rho_m_norm", &SpbRow::rho_m_norm},
      {"mean_rho", &SpbRow::mean_rho},
      {"frac_le_half", &SpbRow::frac_le_half},
      {"vote_frac_le_half", &SpbRow::vote_frac_le_half},
      {"mean_vote_right", &SpbRow::mean_vote_right},
      {"mean_vote_tie", &SpbRow::mean_vote_tie},
  };
  for (const auto& [name, field] : stats) {
    CAPTURE(name);
    CHECK(got.*field == doctest::Approx(want.*field).epsilon(eps));
  }
}

}  // namespace

TEST_CASE("SignTally matches a naive recount (histogram and per-voter storage)") {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  struct Shape {
    std::uint32_t m, d;
    bool hist;
  };
  for (const Shape sh : {Shape{5, 1, true}, Shape{7, 2, true}, Shape{4, 2, false}, Shape{3, 5, false}}) {
    const std::size_t dims = 200;
    std::vector<double> g(dims);
    for (auto& x : g) x = rng() % 10 == 0 ? 0.0 : u(rng);
    std::vector<std::vector<std::vector<float>>> draws(sh.m, std::vector<std::vector<float>>(sh.d));
    for (std::uint32_t c = 0; c < sh.m; ++c) {
      const double bias = 0.6 * u(rng);  // non-identical clients
      for (auto& dr : draws[c]) {
        dr.resize(dims);
        for (std::size_t j = 0; j < dims; ++j) {
          const double x = rng() % 4 == 0 ? 0.0 : g[j] * bias + u(rng);  // a quarter abstain
          dr[j] = static_cast<float>(x);
        }
      }
    }
    SignTally t(g, sh.m, sh.d);
    CHECK(t.histogram_mode() == sh.hist);
    for (std::uint32_t c = 0; c < sh.m; ++c) {
      for (const auto& dr : draws[c]) t.add_draw(dr);
      t.end_voter();
    }
    SpbRow got;
    t.finish(got);
    const SpbRow want = naive_row(g, draws);
    CAPTURE(sh.m);
    CAPTURE(sh.d);
    CHECK(got.voters == sh.m);
    CHECK(got.samples_per_coord == sh.m * sh.d);
    CHECK(got.coords == want.coords);
    check_coord_stats(got, want, 1e-12);
    CHECK(got.client_frac_le_half == doctest::Approx(want.client_frac_le_half).epsilon(1e-12));
    CHECK(got.abstain_frac == doctest::Approx(want.abstain_frac).epsilon(1e-12));
    CHECK(got.abstain_frac > 0.1);
  }
}

TEST_CASE("SignTally: a zero minibatch coordinate abstains - an always-abstaining client changes no vote statistic") {
  const std::vector<double> g = {1.0, -2.0, 0.5};
  // One client, two draws: coordinate 0 right then 0 (abstain), coordinate 1
  // wrong then right, coordinate 2 always 0.
  SignTally t(g, 1, 2);
  t.add_draw(std::vector<float>{3.0f, 1.0f, 0.0f});
  t.add_draw(std::vector<float>{0.0f, -1.0f, 0.0f});
  t.end_voter();
  SpbRow r;
  t.finish(r);
  CHECK(r.coords == 3);
  CHECK(r.mean_rho == doctest::Approx((1.0 + 0.5 + 0.5) / 3));  // abstentions excluded, all-abstain = 1/2
  CHECK(r.rho_norm == doctest::Approx(1.0 * 1.0));               // (2*1-1)*1 + 0 + 0
  CHECK(r.rho_m_norm == doctest::Approx(0.5 * 1.0 + 0.0));        // coordinate 0: right 1/2, abstain 1/2
  CHECK(r.abstain_frac == doctest::Approx(3.0 / 6.0));
  CHECK(r.frac_le_half == doctest::Approx(2.0 / 3.0));

  // Three clients vs the same three plus one whose minibatch gradients are all 0.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> g2(50);
  for (auto& x : g2) x = u(rng);
  std::vector<std::vector<float>> dr(6, std::vector<float>(50));
  for (auto& d : dr)
    for (auto& x : d) x = static_cast<float>(u(rng));
  SpbRow a, b;
  for (bool extra : {false, true}) {
    SignTally s(g2, extra ? 4 : 3, 2);
    for (std::size_t c = 0; c < 3; ++c) {
      if (extra && c == 1) {  // the abstainer, between the others
        s.add_draw(std::vector<float>(50, 0.0f));
        s.add_draw(std::vector<float>(50, 0.0f));
        s.end_voter();
      }
      s.add_draw(dr[2 * c]);
      s.add_draw(dr[2 * c + 1]);
      s.end_voter();
    }
    s.finish(extra ? b : a);
  }
  check_coord_stats(b, a, 1e-14);
  CHECK(a.abstain_frac == 0.0);
  CHECK(b.abstain_frac == doctest::Approx(0.25));
}

namespace {

// Two clients with very different data and shard sizes (3 vs 9 rows).
std::shared_ptr<const data::Dataset> two_client_data() {
  auto d = std::make_shared<data::Dataset>();
  d->rows = 12;
  d->cols = 4;
  d->classes = 2;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t i = 0; i < d->rows; ++i) {
    const bool first = i < 3;
    for (std::size_t c = 0; c < d->cols; ++c)
      d->features.push_back(first ? 0.9f - 0.2f * u(rng) : (c % 2 == 0 ? 0.1f : 0.6f) * u(rng));
    d->labels.push_back(first ? 0 : static_cast<std::uint8_t>(i % 3 == 0));
  }
  return d;
}

// Mean gradient of the model at params over rows, inputs standardised by s.
std::vector<double> mean_grad(const std::string& spec, std::span<const float> params, const data::Dataset& d,
                              const std::vector<std::uint32_t>& rows, const data::Standardisation& s,
                              double* loss = nullptr) {
  auto m = signfed::model::make_model(spec, 0);
  std::copy(params.begin(), params.end(), m->params().begin());
  std::vector<float> x, in(d.cols), out(d.cols), g(m->num_params());
  std::vector<std::uint8_t> y;
  for (std::uint32_t r : rows) {
    std::copy_n(d.features.begin() + static_cast<std::ptrdiff_t>(r * d.cols), d.cols, in.begin());
    s.apply(in, out);
    x.insert(x.end(), out.begin(), out.end());
    y.push_back(d.labels[r]);
  }
  const double l = m->loss_and_grad(x, y, rows.size(), g);
  if (loss) *loss = l;
  return {g.begin(), g.end()};
}

}  // namespace

TEST_CASE("SpbProbe: the full gradient is (1/M) sum_m grad f_m (eq. (1)), not the union's mean") {
  const std::string spec = "mlp:4-3-2";
  const auto d = two_client_data();
  const std::vector<std::vector<std::uint32_t>> shards = {{0, 1, 2}, {3, 4, 5, 6, 7, 8, 9, 10, 11}};
  const auto init = signfed::model::make_model(spec, 7);
  const std::vector<float> params(init->params().begin(), init->params().end());

  for (const data::Standardisation& st : {data::Standardisation{}, data::Standardisation{true, 0.4f, 0.3f}}) {
    CAPTURE(st.enabled);
    SpbProbe probe(spec, d, shards, 2, 3, 11, st);
    const SpbRow row = probe.probe(4, params);
    double f0 = 0, f1 = 0, fu = 0;
    const std::vector<double> g0 = mean_grad(spec, params, *d, shards[0], st, &f0);
    const std::vector<double> g1 = mean_grad(spec, params, *d, shards[1], st, &f1);
    std::vector<std::uint32_t> all = shards[0];
    all.insert(all.end(), shards[1].begin(), shards[1].end());
    const std::vector<double> gu = mean_grad(spec, params, *d, all, st, &fu);
    const std::span<const double> g = probe.full_gradient();
    REQUIRE(g.size() == g0.size());
    double diff_union = 0.0, l1 = 0.0;
    for (std::size_t j = 0; j < g.size(); ++j) {
      const double want = 0.5 * (g0[j] + g1[j]);
      CHECK(g[j] == doctest::Approx(want).epsilon(1e-5).scale(1e-6));
      diff_union = std::max(diff_union, std::fabs(want - gu[j]));
      if (g[j] != 0.0) l1 += std::fabs(g[j]);
    }
    CHECK(diff_union > 1e-2);  // the data make the two definitions differ
    CHECK(row.full_loss == doctest::Approx(0.5 * (f0 + f1)).epsilon(1e-6));
    CHECK(std::fabs(0.5 * (f0 + f1) - fu) > 1e-3);
    CHECK(row.l1 == doctest::Approx(l1).epsilon(1e-12));
    CHECK(row.voters == 2);
    CHECK(row.samples_per_coord == 6);
    CHECK(row.round == 4);
  }

  // Standardisation reaches the model: raw and standardised gradients differ.
  SpbProbe raw(spec, d, shards, 2, 1, 11), std_(spec, d, shards, 2, 1, 11, data::Standardisation{true, 0.4f, 0.3f});
  raw.probe(0, params);
  std_.probe(0, params);
  double diff = 0.0;
  for (std::size_t j = 0; j < raw.full_gradient().size(); ++j)
    diff = std::max(diff, std::fabs(raw.full_gradient()[j] - std_.full_gradient()[j]));
  CHECK(diff > 1e-2);
  CHECK_THROWS_AS(SpbProbe(spec, d, {{0, 1}, {}}, 2, 1, 1), std::invalid_argument);
}
