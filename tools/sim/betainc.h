// The regularized incomplete beta function I(x; a, b) (Safaryan & Richtarik
// eq. (22)), which turns a per-coordinate success probability rho into the
// majority vote's expected sign agreement (Lemma 8): 2 I(rho; l, l) - 1.
// Diagnostics only (SPB probe, Rosenbrock, tests): uses std::lgamma/std::exp,
// so results may differ in the last bits between platforms. Pure; thread-safe.
#pragma once

#include <cstdint>

namespace signfed::sim {

// I(x; a, b) for a, b > 0 and x in [0, 1], by the Lentz continued fraction
// (relative error ~1e-13). Throws std::domain_error outside the domain.
double incomplete_beta(double x, double a, double b);

// I(x; l, m - l + 1) = P(Binomial(m, x) >= l) for integers 1 <= l <= m, as an
// exact finite sum of binomial terms (computed in log space, stable up to
// m ~ 10^6). Throws std::domain_error outside the domain.
double binomial_tail(double x, std::uint32_t l, std::uint32_t m);

// Lemma 8: E[sign(vote) * sign(g)] for M independent voters that each match
// sign(g) with probability rho, ties counting 0: 2 I(rho; l, l) - 1 with
// l = floor((M + 1) / 2). M >= 1.
double vote_agreement(double rho, std::uint32_t voters);

}  // namespace signfed::sim
