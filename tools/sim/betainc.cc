#include "tools/sim/betainc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace signfed::sim {

namespace {

// Continued fraction of I(x; a, b) (Numerical Recipes' betacf, modified Lentz).
double beta_cf(double x, double a, double b) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 100000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < kEps) break;
  }
  return h;
}

}  // namespace

double incomplete_beta(double x, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0))
    throw std::domain_error("incomplete_beta: need a, b > 0 and 0 <= x <= 1");
  if (x == 0.0 || x == 1.0) return x;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  // The fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(x, a, b) / a;
  return 1.0 - front * beta_cf(1.0 - x, b, a) / b;
}

double binomial_tail(double x, std::uint32_t l, std::uint32_t m) {
  if (l < 1 || l > m || !(x >= 0.0 && x <= 1.0)) throw std::domain_error("binomial_tail: need 1 <= l <= m, 0 <= x <= 1");
  if (x == 0.0) return 0.0;
  if (x == 1.0) return 1.0;
  const double lx = std::log(x), l1x = std::log1p(-x);
  const double lgm = std::lgamma(m + 1.0);
  // Sum the smaller tail for accuracy.
  double sum = 0.0;
  for (std::uint32_t j = l; j <= m; ++j)
    sum += std::exp(lgm - std::lgamma(j + 1.0) - std::lgamma(m - j + 1.0) + j * lx + (m - j) * l1x);
  return std::clamp(sum, 0.0, 1.0);
}

double vote_agreement(double rho, std::uint32_t voters) {
  if (voters == 0) throw std::domain_error("vote_agreement: need at least one voter");
  const std::uint32_t l = (voters + 1) / 2;
  return 2.0 * binomial_tail(rho, l, 2 * l - 1) - 1.0;
}

}  // namespace signfed::sim
