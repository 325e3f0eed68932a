// Deterministic random numbers for data partitioning and anything else that
// must give the same draws on every platform (x86, ARM; any standard library).
//
// Why not <random>: the engines are portable but the distributions
// (uniform_int_distribution, normal_distribution, gamma_distribution, ...) are
// implementation-defined, so libstdc++ and libc++ give different partitions for
// the same seed. Why not std::log/std::exp: libm results may differ in the last
// bit between platforms. Everything here uses only +, -, *, /, sqrt, floor,
// frexp and ldexp, which IEEE-754 defines exactly, so the draws are bit-identical
// wherever the code is compiled without FMA contraction (-ffp-contract=off,
// which signfed_options sets).
//
// Engine: xoshiro256** (Blackman & Vigna), state seeded from a 64-bit seed with
// splitmix64, as the authors recommend. An Rng is a plain value: not
// thread-safe, copy it to fork a stream.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace signfed::data {

// splitmix64 step: advances *state and returns the next output.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Mixes several values into one seed, e.g. (run seed, round, client): streams
// for distinct tuples are independent for all practical purposes.
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) {
  std::uint64_t s = a;
  std::uint64_t h = splitmix64(s);
  s = h ^ b;
  h = splitmix64(s);
  s = h ^ c;
  return splitmix64(s);
}

// log(x) for finite x > 0 (returns -inf for 0, NaN for x < 0 or NaN), from
// basic operations only; within ~2 ulp of the true value.
inline double portable_log(double x) {
  if (!(x > 0.0)) return x == 0.0 ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (x == std::numeric_limits<double>::infinity()) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    --e;
  }
  // log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716: the series converges fast.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double poly = 1.0 / 23.0;
  for (int k = 10; k >= 0; --k) poly = 1.0 / (2 * k + 1) + s2 * poly;
  // ln2 split so that e*kLn2Hi is exact (fdlibm constants).
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  const double de = static_cast<double>(e);
  return de * kLn2Hi + (de * kLn2Lo + 2.0 * s * poly);
}

// exp(x), from basic operations only; within ~2 ulp of the true value.
inline double portable_exp(double x) {
  if (x != x) return x;
  if (x > 709.782712893383973) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0.0;
  constexpr double kInvLn2 = 1.44269504088896338700e+00;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  const double k = std::floor(x * kInvLn2 + 0.5);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ~0.347
  double poly = 1.0;                                // Taylor series to r^14/14!
  for (int n = 14; n >= 1; --n) poly = 1.0 + poly * r / n;
  return std::ldexp(poly, static_cast<int>(k));
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
  }

  // Next raw 64-bit output.
  std::uint64_t next() {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [0, n), unbiased (rejection); n must be > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

  // Uniform double in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform double in (0, 1]: safe to take the log of.
  double uniform_pos() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }

  // Standard normal (Marsaglia's polar method; the second value is discarded
  // so that an Rng carries no hidden cache).
  double normal() {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0;
      const double v = 2.0 * uniform() - 1.0;
      const double s = u * u + v * v;
      if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * portable_log(s) / s);
    }
  }

  // Gamma(shape, 1) for shape > 0 (Marsaglia & Tsang 2000; for shape < 1 the
  // boost Gamma(a) = Gamma(a+1) * U^(1/a)). May return 0 for tiny shapes.
  double gamma(double shape) {
    if (shape < 1.0) return gamma(shape + 1.0) * portable_exp(portable_log(uniform_pos()) / shape);
    return gamma_ge1(shape);
  }

  // log of a Gamma(shape, 1) draw, without underflow for tiny shapes (where
  // the draw itself is often below the smallest double).
  double log_gamma(double shape) {
    if (shape < 1.0) return portable_log(gamma_ge1(shape + 1.0)) + portable_log(uniform_pos()) / shape;
    return portable_log(gamma_ge1(shape));
  }

 private:
  // Marsaglia & Tsang for shape >= 1.
  double gamma_ge1(double shape) {
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x = 0.0;
      double v = 0.0;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_pos();
      const double x2 = x * x;
      if (u < 1.0 - 0.0331 * x2 * x2) return d * v;  // cheap squeeze, no log
      if (portable_log(u) < 0.5 * x2 + d * (1.0 - v + portable_log(v))) return d * v;
    }
  }

  std::uint64_t s_[4];
};

}  // namespace signfed::data
