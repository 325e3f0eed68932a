#include "tools/sim/betainc.h"

#include <boost/math/special_functions/beta.hpp>

#include <stdexcept>

namespace signfed::sim {

double incomplete_beta(double x, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0))
    throw std::domain_error("incomplete_beta: need a, b > 0 and 0 <= x <= 1");
  return boost::math::ibeta(a, b, x);
}

double vote_agreement(double rho, std::uint32_t voters) {
  if (voters == 0) throw std::domain_error("vote_agreement: need at least one voter");
  const double l = static_cast<double>((voters + 1) / 2);
  return 2.0 * incomplete_beta(rho, l, l) - 1.0;
}

}  // namespace signfed::sim
