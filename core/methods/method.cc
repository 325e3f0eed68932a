#include "core/methods/method.h"

#include <algorithm>
#include <cmath>

namespace signfed::methods {

bool is_vote_method(Method m) {
  return m == Method::signsgd || m == Method::s3gd || m == Method::randk || m == Method::signum;
}

bool uses_momentum(const MethodConfig& m) {
  return m.method == Method::signum || (m.momentum != 0.0f && (m.method == Method::s3gd || m.method == Method::randk));
}

bool trains_locally(Method m) { return m == Method::fedavg; }

const char* method_name(Method m) { return wire::EnumNameMethod(m); }

bool parse_method(std::string_view name, Method* out) {
  for (Method m : wire::EnumValuesMethod()) {
    if (name == wire::EnumNameMethod(m)) {
      *out = m;
      return true;
    }
  }
  return false;
}

std::size_t topk_count(std::size_t n, double gamma) {
  if (n == 0) return 0;
  const double k = std::round(gamma * static_cast<double>(n));
  return static_cast<std::size_t>(std::clamp(k, 1.0, static_cast<double>(n)));
}

double auto_gamma(std::size_t voters, std::size_t n) {
  // S3GD-MV Corollary 1: the smallest K with M^(2/3) K ~= N.
  const double g = std::pow(static_cast<double>(std::max<std::size_t>(voters, 1)), -2.0 / 3.0);
  return std::clamp(g, n > 0 ? 1.0 / static_cast<double>(n) : 1.0, 1.0);
}

}  // namespace signfed::methods
