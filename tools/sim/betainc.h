// The regularized incomplete beta function I(x; a, b) (Safaryan & Richtarik
// eq. (22)), which turns a per-coordinate success probability rho into the
// majority vote's expected sign agreement (Lemma 8): 2 I(rho; l, l) - 1.
// Computed by Boost.Math (boost::math::ibeta); these wrappers keep the paper's
// argument order and its domain. Diagnostics only (tests of the SPB probe and
// of Lemma 8): results may differ in the last bits between platforms. Pure;
// thread-safe.
#pragma once

#include <cstdint>

namespace signfed::sim {

// I(x; a, b) for a, b > 0 and x in [0, 1] (boost::math::ibeta(a, b, x)).
// Throws std::domain_error outside the domain (Boost would accept a or b = 0).
double incomplete_beta(double x, double a, double b);

// Lemma 8: E[sign(vote) * sign(g)] for M independent voters that each match
// sign(g) with probability rho, ties counting 0: 2 I(rho; l, l) - 1 with
// l = floor((M + 1) / 2). M >= 1; throws std::domain_error otherwise.
double vote_agreement(double rho, std::uint32_t voters);

}  // namespace signfed::sim
