#include "core/codec/packet.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "core/codec/internal/bit_count.h"
#include "core/codec/internal/bit_stream.h"
#include "core/kernels/sign_kernels.h"

namespace signfed::codec {
namespace {

static_assert(std::endian::native == std::endian::little, "wire floats are little-endian");

using kernels::packed_bytes;

[[noreturn]] void fail(const std::string& what) { throw CodecError(what); }

using internal::popcount_bytes;

// Bits past dim in the last byte must be zero: one canonical coding per vector.
void check_pad_bits(std::span<const std::uint8_t> bits, std::uint32_t dim, const char* what) {
  const unsigned tail = dim % 8;
  if (tail != 0 && !bits.empty() && (bits.back() >> tail) != 0) fail(std::string(what) + ": nonzero pad bits");
}

// Gap j = idx[j] - idx[j-1] - 1 (idx[-1] = -1): >= 0 for strictly increasing idx.
std::uint64_t rice_bits(std::span<const std::uint32_t> idx, unsigned k) {
  std::uint64_t bits = 0;
  std::uint32_t prev = 0;
  bool first = true;
  for (std::uint32_t i : idx) {
    const std::uint32_t gap = first ? i : i - prev - 1;
    bits += (gap >> k) + 1 + k;
    prev = i;
    first = false;
  }
  return bits;
}

unsigned best_rice_k(std::uint32_t dim, std::span<const std::uint32_t> idx) {
  if (idx.empty()) return 0;
  // The optimum for geometric gaps of mean m sits near log2(m * ln 2); try its
  // neighbours exactly rather than trust the model.
  const double mean_gap = static_cast<double>(dim) / static_cast<double>(idx.size());
  const int guess = static_cast<int>(std::floor(std::log2(std::max(1.0, mean_gap * 0.6931471805599453))));
  unsigned best = 0;
  std::uint64_t best_bits = UINT64_MAX;
  for (int k = std::max(0, guess - 1); k <= std::min(31, guess + 1); ++k) {
    const std::uint64_t b = rice_bits(idx, static_cast<unsigned>(k));
    if (b < best_bits) {
      best_bits = b;
      best = static_cast<unsigned>(k);
    }
  }
  return best;
}

// n <= 57 bits of b starting at bit `pos` (LSB first); bytes past the end read as 0.
std::uint64_t load_bits(std::span<const std::uint8_t> b, std::uint64_t pos, unsigned n) {
  const std::size_t byte = static_cast<std::size_t>(pos >> 3);
  std::uint64_t w = 0;
  // A fixed-size copy is one load; a variable-size one is a call to memcpy per read.
  if (byte + 8 <= b.size()) std::memcpy(&w, b.data() + byte, 8);
  else if (byte < b.size()) std::memcpy(&w, b.data() + byte, b.size() - byte);
  return (w >> (pos & 7)) & ((std::uint64_t{1} << n) - 1);
}

// b |= v << pos for n <= 57 bits of v (the caller keeps pos + n within b).
void or_bits(std::span<std::uint8_t> b, std::uint64_t pos, std::uint64_t v, unsigned n) {
  const std::size_t byte = static_cast<std::size_t>(pos >> 3);
  const unsigned shift = static_cast<unsigned>(pos & 7);
  const std::uint64_t w = v << shift;
  if (byte + 8 <= b.size()) {  // one 64-bit read-modify-write (shift + n <= 64)
    std::uint64_t cur;
    std::memcpy(&cur, b.data() + byte, 8);
    cur |= w;
    std::memcpy(b.data() + byte, &cur, 8);
    return;
  }
  for (unsigned k = 0; k * 8 < shift + n; ++k) b[byte + k] |= static_cast<std::uint8_t>(w >> (8 * k));
}

// Sets bits [pos, pos + len) of b.
void set_range(std::span<std::uint8_t> b, std::uint32_t pos, std::uint32_t len) {
  std::uint32_t i = pos;
  const std::uint32_t end = pos + len;
  for (; i < end && (i & 7); ++i) b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7));
  for (; i + 8 <= end; i += 8) b[i >> 3] = 0xFF;
  for (; i < end; ++i) b[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7));
}

// First index >= from (and < dim) whose bit equals `value`, or dim; 64 bits a step.
std::uint32_t next_with(std::span<const std::uint8_t> b, std::uint32_t dim, std::uint32_t from, bool value) {
  std::uint32_t i = from;
  while (i < dim) {
    const unsigned n = std::min<std::uint32_t>(57, dim - i);
    std::uint64_t w = load_bits(b, i, n);
    if (!value) w = ~w & ((std::uint64_t{1} << n) - 1);
    if (w != 0) return i + static_cast<std::uint32_t>(std::countr_zero(w));
    i += n;
  }
  return dim;
}
std::uint32_t next_set(std::span<const std::uint8_t> b, std::uint32_t dim, std::uint32_t from) {
  return next_with(b, dim, from, true);
}
std::uint32_t next_clear(std::span<const std::uint8_t> b, std::uint32_t dim, std::uint32_t from) {
  return next_with(b, dim, from, false);
}


}  // namespace

TernarySigns TernarySigns::zeros(std::uint32_t dim) {
  TernarySigns t;
  zeros_into(dim, t);
  return t;
}

void zeros_into(std::uint32_t dim, TernarySigns& t) {
  t.dim = dim;
  t.support.assign(packed_bytes(dim), 0);  // assign keeps the capacity: no allocation once sized
  t.negative.assign(packed_bytes(dim), 0);
}

std::uint64_t TernarySigns::nnz() const { return popcount_bytes(support); }

SignPacket make_dense_packet(std::uint32_t dim, std::vector<std::uint8_t> bits, float scale) {
  SignPacket p;
  p.encoding = Encoding::dense_sign;
  p.dim = dim;
  p.nnz = dim;
  p.scale = scale;
  p.payload = std::move(bits);
  return p;
}

SignPacket encode_sparse(std::uint32_t dim, std::span<const std::uint32_t> idx, std::span<const float> values) {
  SignPacket p;
  p.encoding = Encoding::sparse_sign;
  p.dim = dim;
  p.nnz = static_cast<std::uint32_t>(idx.size());
  const unsigned k = best_rice_k(dim, idx);
  p.rice_k = static_cast<std::uint8_t>(k);
  p.payload.reserve((rice_bits(idx, k) + idx.size() + 7) / 8);
  BitWriter w(p.payload);
  std::uint32_t prev = 0;
  for (std::size_t j = 0; j < idx.size(); ++j) {
    w.put_rice(j == 0 ? idx[j] : idx[j] - prev - 1, k);
    prev = idx[j];
  }
  for (std::uint32_t i : idx) w.put(std::signbit(values[i]) ? 1u : 0u, 1);
  w.flush();
  return p;
}

SignPacket encode_sparse(const SparseSigns& s) {
  SignPacket p;
  encode_sparse_into(s, p);
  return p;
}

void encode_sparse_into(const SparseSigns& s, SignPacket& p) {
  static_cast<PacketHeader&>(p) = PacketHeader{};
  p.sparse.reset();  // a decoded form of the old payload would be stale
  p.payload.clear();
  p.encoding = Encoding::sparse_sign;
  p.dim = s.dim;
  p.nnz = static_cast<std::uint32_t>(s.index.size());
  const unsigned k = best_rice_k(s.dim, s.index);
  p.rice_k = static_cast<std::uint8_t>(k);
  BitWriter w(p.payload);
  for (std::size_t j = 0; j < s.index.size(); ++j) w.put_rice(j == 0 ? s.index[j] : s.index[j] - s.index[j - 1] - 1, k);
  for (std::uint8_t neg : s.negative) w.put(neg ? 1u : 0u, 1);
  w.flush();
}

SignPacket encode_float32(std::span<const float> x) {
  SignPacket p;
  encode_float32_into(x, p);
  return p;
}

void encode_float32_into(std::span<const float> x, SignPacket& p) {
  static_cast<PacketHeader&>(p) = PacketHeader{};
  p.sparse.reset();  // a decoded form of the old payload would be stale
  p.encoding = Encoding::float32;
  p.dim = static_cast<std::uint32_t>(x.size());
  p.nnz = p.dim;
  p.payload.resize(x.size() * sizeof(float));
  if (!x.empty()) std::memcpy(p.payload.data(), x.data(), p.payload.size());
}

TernarySigns ternary_signs(std::span<const float> x) {
  TernarySigns t;
  ternary_signs_into(x, t);
  return t;
}

void ternary_signs_into(std::span<const float> x, TernarySigns& t) {
  zeros_into(static_cast<std::uint32_t>(x.size()), t);
  // Branch-free, a byte at a time: gradient signs are coin flips to a branch
  // predictor (the branchy loop cost as much as a training step). NaN: neither.
  const std::uint32_t n = static_cast<std::uint32_t>(x.size());
  std::uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    unsigned pos = 0, neg = 0;
    for (unsigned b = 0; b < 8; ++b) {
      pos |= static_cast<unsigned>(x[i + b] > 0.0f) << b;
      neg |= static_cast<unsigned>(x[i + b] < 0.0f) << b;
    }
    t.support[i >> 3] = static_cast<std::uint8_t>(pos | neg);
    t.negative[i >> 3] = static_cast<std::uint8_t>(neg);
  }
  for (; i < n; ++i) {
    const unsigned pos = x[i] > 0.0f, neg = x[i] < 0.0f;
    t.support[i >> 3] |= static_cast<std::uint8_t>((pos | neg) << (i & 7));
    t.negative[i >> 3] |= static_cast<std::uint8_t>(neg << (i & 7));
  }
}

SignPacket encode_runs(const TernarySigns& t) {
  SignPacket p;
  encode_runs_into(t, p);
  return p;
}

namespace {

// Calls f(moving, code, start, length) for each run of t's support in order:
// moving (the first may be empty), zero, moving, ... summing to dim; a run's
// code is its length, minus 1 after the first run (every later run is >= 1).
template <class F>
void for_each_run(const TernarySigns& t, F&& f) {
  std::uint32_t i = 0;
  bool first = true;
  while (i < t.dim) {
    const std::uint32_t j = next_clear(t.support, t.dim, i);  // end of the moving run
    if (first || j > i) f(true, first ? j - i : j - i - 1, i, j - i);
    first = false;
    if (j >= t.dim) break;
    const std::uint32_t k = next_set(t.support, t.dim, j);
    f(false, k - j - 1, j, k - j);
    i = k;
  }
}

// What choosing a Rice parameter needs of a list of codes, gathered in one pass
// without keeping the list: its count, sum and what gives, for any k, the sum
// of (v >> k). Run lengths are mostly short: those below kSmall are counted by
// value (one increment, not 32 shifts per code); the rest keep the 32 sums.
struct CodeStats {
  static constexpr std::uint32_t kSmall = 256;
  std::uint64_t n = 0;
  double sum = 0.0;  // exact: integers far below 2^53
  std::uint64_t small[kSmall] = {};         // codes below kSmall, by value
  std::uint64_t large_shifted[32] = {};     // for every k, sum of (v >> k) over codes >= kSmall
  void add(std::uint32_t v) {
    ++n;
    sum += v;
    if (v < kSmall) {
      ++small[v];
      return;
    }
    for (unsigned k = 0; k < 32; ++k) large_shifted[k] += v >> k;
  }
  // Bits of the Rice code of every value under parameter k.
  std::uint64_t cost(unsigned k) const {
    std::uint64_t shifted = large_shifted[k];
    for (std::uint32_t v = 1; v < kSmall; ++v) shifted += small[v] * (v >> k);
    return shifted + n * (1 + k);
  }
  // The k (0..31) that codes the list in the fewest bits, searched around
  // the geometric-mean optimum log2(ln 2 * mean); the first on a tie.
  unsigned best_k() const {
    if (n == 0) return 0;
    const double mean = std::max(1.0, sum / static_cast<double>(n));
    const int guess = static_cast<int>(std::floor(std::log2(std::max(1.0, mean * 0.6931471805599453))));
    unsigned best = 0;
    std::uint64_t best_bits = UINT64_MAX;
    for (int k = std::max(0, guess - 2); k <= std::min(31, guess + 2); ++k) {
      const std::uint64_t b = cost(static_cast<unsigned>(k));
      if (b < best_bits) best_bits = b, best = static_cast<unsigned>(k);
    }
    return best;
  }
};

}  // namespace

void encode_runs_into(const TernarySigns& t, SignPacket& p) {
  // Three walks over the support bitmap, no list of runs kept (so nothing to
  // grow): the codes' statistics, the codes, the sign bits.
  CodeStats moving, zero;
  for_each_run(t, [&](bool is_moving, std::uint32_t code, std::uint32_t, std::uint32_t) {
    (is_moving ? moving : zero).add(code);
  });
  const unsigned km = moving.best_k(), kz = zero.best_k();
  static_cast<PacketHeader&>(p) = PacketHeader{};
  p.sparse.reset();  // a decoded form of the old payload would be stale
  p.payload.clear();
  p.encoding = Encoding::runs_sign;
  p.dim = t.dim;
  p.nnz = static_cast<std::uint32_t>(t.nnz());
  p.payload.reserve(p.nnz / 8 + (moving.cost(km) + zero.cost(kz)) / 8 + 4);
  BitWriter w(p.payload);
  w.put(km, 5);
  w.put(kz, 5);
  for_each_run(t, [&](bool is_moving, std::uint32_t code, std::uint32_t, std::uint32_t) {
    w.put_rice(code, is_moving ? km : kz);
  });
  // The sign bits of the moving coordinates, in order, 32 at a time.
  for_each_run(t, [&](bool is_moving, std::uint32_t, std::uint32_t start, std::uint32_t length) {
    if (!is_moving) return;
    for (std::uint32_t off = 0; off < length; off += 32) {
      const unsigned n = std::min<std::uint32_t>(32, length - off);
      w.put(static_cast<std::uint32_t>(load_bits(t.negative, std::uint64_t{start} + off, n)), n);
    }
  });
  w.flush();
}

namespace {

// Decodes a runs_sign payload into *t (validating everything), or, with
// t == nullptr, only checks it (validate(): the runs are parsed, nothing is
// set). The moving runs are the maximal runs of t->support's set bits: the
// sign bits are scattered by walking it again rather than from a list of runs
// (nothing to grow).
void decode_runs_into(const PacketView& p, TernarySigns* t) {
  if (p.nnz > p.dim) fail("runs_sign packet: nnz exceeds dim");
  BitReader r(p.payload);
  const unsigned km = r.get(5), kz = r.get(5);
  if (!r.ok()) fail("runs_sign packet: truncated header");
  std::uint64_t pos = 0, moving = 0;
  bool first = true, in_moving = true;
  while (pos < p.dim) {
    const unsigned k = in_moving ? km : kz;
    const std::uint64_t len = std::uint64_t{r.get_rice(k, (p.dim >> k) + 1)} + (first ? 0 : 1);
    if (!r.ok()) fail("runs_sign packet: truncated or malformed run code");
    if (pos + len > p.dim) fail("runs_sign packet: runs exceed dim");
    if (in_moving && len > 0) {
      if (t) set_range(t->support, static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(len));
      moving += len;
    }
    pos += len;
    first = false;
    in_moving = !in_moving;
  }
  if (moving != p.nnz) fail("runs_sign packet: nnz does not match the runs");
  const std::uint64_t signs_at = r.position();
  const std::uint64_t used = signs_at + p.nnz;
  if (used > std::uint64_t{p.payload.size()} * 8) fail("runs_sign packet: truncated sign bits");
  if ((used + 7) / 8 != p.payload.size())
    fail("runs_sign packet: " + std::to_string(p.payload.size() - (used + 7) / 8) + " trailing bytes");
  if (used % 8 != 0 && (p.payload.back() >> (used % 8)) != 0) fail("runs_sign packet: nonzero pad bits");
  if (!t) return;
  // Scatter the sign bits into the moving runs, up to 57 bits at a time.
  std::uint64_t src = signs_at;
  for (std::uint32_t start = next_set(t->support, p.dim, 0); start < p.dim;) {
    const std::uint32_t end = next_clear(t->support, p.dim, start);
    for (std::uint32_t off = 0; off < end - start;) {
      const unsigned n = std::min<std::uint32_t>(57, end - start - off);
      or_bits(t->negative, std::uint64_t{start} + off, load_bits(p.payload, src, n), n);
      src += n;
      off += n;
    }
    start = end < p.dim ? next_set(t->support, p.dim, end) : p.dim;
  }
}

}  // namespace

SignPacket encode_ternary_best(const TernarySigns& t) {
  CodecScratch s;
  SignPacket p;
  encode_ternary_best_into(t, s, p);
  return p;
}

void encode_ternary_best_into(const TernarySigns& t, CodecScratch& s, SignPacket& out) {
  const std::uint64_t nnz = t.nnz();
  if (nnz == t.dim) {
    // Every coordinate moves: the negative bitmap alone is the dense sign packet.
    static_cast<PacketHeader&>(out) = PacketHeader{};
    out.sparse.reset();  // a decoded form of the old payload would be stale
    out.encoding = Encoding::dense_sign;
    out.dim = t.dim;
    out.nnz = t.dim;
    out.payload.assign(t.negative.begin(), t.negative.end());
    return;
  }
  SignPacket& runs = s.candidate;
  // Room, once, for any coding of this dim either buffer may hold (they swap
  // roles): an accepted packet is at most 2 bitmaps; a runs_sign candidate
  // codes at most ~4 bits per coordinate.
  const std::size_t room = 4 * packed_bytes(t.dim) + 64;
  if (runs.payload.capacity() < room) runs.payload.reserve(room);
  if (out.payload.capacity() < room) out.payload.reserve(room);
  encode_runs_into(t, runs);
  // A sparse entry costs at least 2 bits (gap terminator + sign): skip it when that cannot win.
  if (2 * nnz >= std::uint64_t{runs.payload.size()} * 8 && runs.payload.size() <= 2 * packed_bytes(t.dim)) {
    std::swap(out, runs);  // moves the vectors: both keep their storage for the next call
    return;
  }
  SparseSigns& sp = s.sparse;
  sp.dim = t.dim;
  sp.index.clear();
  sp.negative.clear();
  if (sp.index.capacity() < nnz) {  // once: room for any nnz of this dim, so no later round grows them
    sp.index.reserve(t.dim);
    sp.negative.reserve(t.dim);
  }
  for (std::uint32_t i = 0; i < t.dim; ++i) {
    if ((t.support[i >> 3] >> (i & 7)) & 1u) {
      sp.index.push_back(i);
      sp.negative.push_back((t.negative[i >> 3] >> (i & 7)) & 1u);
    }
  }
  encode_sparse_into(sp, out);
  if (runs.payload.size() < out.payload.size()) std::swap(out, runs);
  if (out.payload.size() <= 2 * packed_bytes(t.dim)) return;
  static_cast<PacketHeader&>(out) = PacketHeader{};
  out.sparse.reset();  // a decoded form of the old payload would be stale
  out.encoding = Encoding::ternary;
  out.dim = t.dim;
  out.nnz = static_cast<std::uint32_t>(nnz);
  out.payload.assign(t.support.begin(), t.support.end());
  out.payload.insert(out.payload.end(), t.negative.begin(), t.negative.end());
}

namespace {

// What both sparse_sign walks check before the first entry, and the output sized.
void begin_sparse_walk(const PacketView& p, SparseSigns* s) {
  if (p.encoding != Encoding::sparse_sign) fail("not a sparse_sign packet");
  if (p.nnz > p.dim) fail("sparse_sign packet: nnz exceeds dim");
  if (p.rice_k > 31) fail("sparse_sign packet: Rice parameter above 31");
  // Each entry costs at least 2 bits (the Rice terminator and a sign): reject
  // an impossible nnz before allocating for it.
  if (std::uint64_t{p.nnz} * 2 > std::uint64_t{p.payload.size()} * 8) fail("sparse_sign packet: truncated");
  if (s) {
    s->dim = p.dim;
    s->index.resize(p.nnz);
    s->negative.resize(p.nnz);
  }
}

// The index codes from entry j on, one at a time through the BitReader, each
// checked (truncation, range); `next`: the smallest index entry j may take.
void read_indices_checked(const PacketView& p, BitReader& r, std::uint32_t max_q, std::uint32_t j,
                          std::uint64_t next, SparseSigns* s) {
  for (; j < p.nnz; ++j) {
    const std::uint64_t i = next + r.get_rice(p.rice_k, max_q);
    if (!r.ok()) fail("sparse_sign packet: truncated or malformed index code");
    if (i >= p.dim) fail("sparse_sign packet: index " + std::to_string(i) + " out of range");
    if (s) s->index[j] = static_cast<std::uint32_t>(i);
    next = i + 1;
  }
}

// The sparse_sign walk with every check at the entry it concerns: run by
// walk_sparse() on a packet its fast loop found out of range, for the exact
// reason (the first offending entry).
void walk_sparse_checked(const PacketView& p, SparseSigns* s) {
  begin_sparse_walk(p, s);
  const std::uint32_t max_q = (p.dim >> p.rice_k) + 1;
  std::uint64_t next = 0;  // smallest index the next entry may take
  // Fast loop while 8 bytes are left to load: each code (q ones, a zero, k
  // bits) read from one 64-bit window held in registers; the rest, and any
  // code longer than the window, through the BitReader.
  const std::uint8_t* in = p.payload.data();
  const std::size_t size = p.payload.size();
  const unsigned k = p.rice_k;
  const std::uint64_t low = (std::uint64_t{1} << k) - 1;
  std::uint64_t pos = 0;
  std::uint32_t j = 0;
  for (; j < p.nnz && (pos >> 3) + 8 <= size; ++j) {
    std::uint64_t w;
    std::memcpy(&w, in + (pos >> 3), 8);
    w >>= pos & 7;  // at least 57 valid bits
    const unsigned ones = static_cast<unsigned>(std::countr_one(w));
    if (ones + 1 + k > 57) break;
    if (ones > max_q) fail("sparse_sign packet: truncated or malformed index code");
    const std::uint64_t i = next + ((std::uint64_t{ones} << k) | ((w >> (ones + 1)) & low));
    if (i >= p.dim) fail("sparse_sign packet: index " + std::to_string(i) + " out of range");
    if (s) s->index[j] = static_cast<std::uint32_t>(i);
    next = i + 1;
    pos += ones + 1 + k;
  }
  BitReader r(p.payload);
  r.seek(pos);
  read_indices_checked(p, r, max_q, j, next, s);
  if (!s) {
    if (r.position() + p.nnz > std::uint64_t{p.payload.size()} * 8) fail("sparse_sign packet: truncated sign bits");
    r.seek(r.position() + p.nnz);
  }
  for (std::uint32_t j = 0; s && j < p.nnz; j += 32) {  // the sign bits, 32 a read
    const unsigned n = std::min<std::uint32_t>(32, p.nnz - j);
    const std::uint32_t bits = r.get(n);
    for (unsigned b = 0; b < n; ++b) s->negative[j + b] = static_cast<std::uint8_t>((bits >> b) & 1u);
  }
  if (!r.ok()) fail("sparse_sign packet: truncated sign bits");
  const std::uint64_t used = r.position();
  if ((used + 7) / 8 != p.payload.size())
    fail("sparse_sign packet: " + std::to_string(p.payload.size() - (used + 7) / 8) + " trailing bytes");
  if (used % 8 != 0 && (p.payload.back() >> (used % 8)) != 0) fail("sparse_sign packet: nonzero pad bits");
}


// Eight sign bits (LSB first) as eight 0/1 bytes: each byte of the product
// keeps one bit of b, and adding 0x7F carries it into the byte's top bit.
inline std::uint64_t spread_bits(std::uint64_t b) {
  const std::uint64_t kept = (b * 0x0101010101010101ull) & 0x8040201008040201ull;
  return ((kept + 0x7F7F7F7F7F7F7F7Full) >> 7) & 0x0101010101010101ull;
}

// Decodes a sparse_sign payload into *s, or, with s == nullptr, only checks
// it (validate(): no allocation, no stores; the sign bits are counted, not read).
// The Rice codes are read from a 64-bit buffer refilled with one load per
// window of up to 63 bits (several codes each), not one load per code; the
// range of each index is OR-ed into a flag instead of branched on, and a
// packet that sets it is walked again by walk_sparse_checked for the reason.
void walk_sparse(const PacketView& p, SparseSigns* s) {
  begin_sparse_walk(p, s);
  const std::uint8_t* in = p.payload.data();
  const std::size_t size = p.payload.size();
  const unsigned k = p.rice_k;
  const std::uint64_t low = (std::uint64_t{1} << k) - 1;
  std::uint32_t* index = s ? s->index.data() : nullptr;
  const std::uint32_t max_q = (p.dim >> p.rice_k) + 1;
  std::uint64_t pos = 0;   // bits consumed
  std::uint64_t next = 0;  // smallest index the next entry may take
  bool out_of_range = false;
  std::uint32_t j = 0;
  while (j < p.nnz && (pos >> 3) + 8 <= size && !out_of_range) {
    std::uint64_t buf;
    std::memcpy(&buf, in + (pos >> 3), 8);
    buf >>= pos & 7;
    unsigned avail = 63 - static_cast<unsigned>(pos & 7);  // at least 56; below 64, so every shift is defined
    const std::uint32_t first = j;
    for (; j < p.nnz; ++j) {
      const unsigned ones = static_cast<unsigned>(std::countr_one(buf));
      const unsigned len = ones + 1 + k;
      if (len > avail) break;
      // ones + k <= 62: the gap is below 2^63 and next cannot wrap before the flag is set.
      const std::uint64_t i = next + ((std::uint64_t{ones} << k) | ((buf >> (ones + 1)) & low));
      if (index) index[j] = static_cast<std::uint32_t>(i);
      next = i + 1;
      out_of_range |= next > p.dim;
      buf >>= len;
      avail -= len;
    }
    pos += (63 - (pos & 7)) - avail;
    if (j == first) {
      // A code longer than a window (a gap of more than ~50 x 2^k: a long run
      // of coordinates outside the support, as a layer whose gradient is
      // zero): this one through the BitReader, then back to windows.
      BitReader r(p.payload);
      r.seek(pos);
      const std::uint64_t i = next + r.get_rice(k, max_q);
      if (!r.ok()) fail("sparse_sign packet: truncated or malformed index code");
      if (index) index[j] = static_cast<std::uint32_t>(i);
      next = i + 1;
      out_of_range |= next > p.dim;
      pos = r.position();
      ++j;
    }
  }
  if (out_of_range) {
    walk_sparse_checked(p, s);  // throws, naming the first offending entry
    fail("sparse_sign packet: index out of range");
  }
  BitReader r(p.payload);
  r.seek(pos);
  read_indices_checked(p, r, max_q, j, next, s);
  const std::uint64_t signs_at = r.position();
  const std::uint64_t used = signs_at + p.nnz;
  if (used > std::uint64_t{size} * 8) fail("sparse_sign packet: truncated sign bits");
  if ((used + 7) / 8 != size) fail("sparse_sign packet: " + std::to_string(size - (used + 7) / 8) + " trailing bytes");
  if (used % 8 != 0 && (p.payload.back() >> (used % 8)) != 0) fail("sparse_sign packet: nonzero pad bits");
  if (!s) return;
  // The sign bits, 8 a step, spread to bytes (the payload holds them all: checked above).
  std::uint32_t jj = 0;
  std::uint64_t at = signs_at;
  for (; jj + 8 <= p.nnz && (at >> 3) + 8 <= size; jj += 8, at += 8) {
    std::uint64_t w;
    std::memcpy(&w, in + (at >> 3), 8);
    const std::uint64_t bytes = spread_bits((w >> (at & 7)) & 0xFF);
    std::memcpy(s->negative.data() + jj, &bytes, 8);
  }
  for (; jj < p.nnz; ++jj, ++at) s->negative[jj] = static_cast<std::uint8_t>((in[at >> 3] >> (at & 7)) & 1u);
}

}  // namespace

void validate(const PacketView& p, std::uint32_t expected_dim) { validate(p, expected_dim, nullptr); }

void validate(const PacketView& p, std::uint32_t expected_dim, SparseSigns* decoded) {
  if (expected_dim != 0 && p.dim != expected_dim)
    fail("packet has " + std::to_string(p.dim) + " coordinates, expected " + std::to_string(expected_dim));
  if (!std::isfinite(p.scale)) fail("packet scale is not finite");
  switch (p.encoding) {
    case Encoding::dense_sign:
      if (p.nnz != p.dim) fail("dense_sign packet: nnz must equal dim");
      if (p.payload.size() != packed_bytes(p.dim))
        fail("dense_sign packet: payload is " + std::to_string(p.payload.size()) + " bytes, expected " +
             std::to_string(packed_bytes(p.dim)));
      check_pad_bits(p.payload, p.dim, "dense_sign packet");
      return;
    case Encoding::float32: {
      if (p.nnz != p.dim) fail("float32 packet: nnz must equal dim");
      if (p.payload.size() != std::size_t{p.dim} * 4)
        fail("float32 packet: payload is " + std::to_string(p.payload.size()) + " bytes, expected " +
             std::to_string(std::size_t{p.dim} * 4));
      // Branch-free over the exponent bits (all ones: Inf or NaN), so it
      // vectorises; the offending coordinate is looked for only on failure.
      std::uint32_t any = 0;
      for (std::size_t i = 0; i < p.dim; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, p.payload.data() + 4 * i, 4);
        any |= static_cast<std::uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
      }
      if (any == 0) return;
      for (std::size_t i = 0; i < p.dim; ++i) {
        float v;
        std::memcpy(&v, p.payload.data() + 4 * i, 4);
        if (!std::isfinite(v)) fail("float32 packet: coordinate " + std::to_string(i) + " is not finite");
      }
      return;
    }
    case Encoding::ternary: {
      const std::size_t nb = packed_bytes(p.dim);
      if (p.payload.size() != 2 * nb)
        fail("ternary packet: payload is " + std::to_string(p.payload.size()) + " bytes, expected " +
             std::to_string(2 * nb));
      auto support = p.payload.subspan(0, nb);
      auto negative = p.payload.subspan(nb, nb);
      check_pad_bits(support, p.dim, "ternary packet support");
      for (std::size_t b = 0; b < nb; ++b)
        if (negative[b] & ~support[b]) fail("ternary packet: sign bit set outside the support");
      if (popcount_bytes(support) != p.nnz) fail("ternary packet: nnz does not match the support");
      return;
    }
    case Encoding::sparse_sign:
      walk_sparse(p, decoded);  // decoding is the check (storing only when asked)
      return;
    case Encoding::runs_sign: {
      decode_runs_into(p, nullptr);  // decoding is the check (without storing)
      return;
    }
  }
  fail("unknown packet encoding " + std::to_string(static_cast<int>(p.encoding)));
}

SparseSigns decode_sparse(const PacketView& p) {
  SparseSigns s;
  decode_sparse_into(p, s);
  return s;
}

void decode_sparse_into(const PacketView& p, SparseSigns& s) { walk_sparse(p, &s); }

TernarySigns decode_ternary(const PacketView& p) {
  CodecScratch s;
  TernarySigns t;
  decode_ternary_into(p, s, t);
  return t;
}

void decode_ternary_into(const PacketView& p, CodecScratch& scratch, TernarySigns& t) {
  // The variable-length codings validate while they decode; the rest first.
  if (p.encoding == Encoding::sparse_sign || p.encoding == Encoding::runs_sign) {
    if (!std::isfinite(p.scale)) fail("packet scale is not finite");
  } else {
    validate(p, 0);
  }
  zeros_into(p.dim, t);
  const std::size_t nb = packed_bytes(p.dim);
  switch (p.encoding) {
    case Encoding::dense_sign:
      std::fill(t.support.begin(), t.support.end(), 0xFF);
      if (p.dim % 8 != 0 && nb > 0) t.support.back() = static_cast<std::uint8_t>((1u << (p.dim % 8)) - 1);
      std::copy(p.payload.begin(), p.payload.end(), t.negative.begin());
      return;
    case Encoding::ternary:
      std::copy(p.payload.begin(), p.payload.begin() + static_cast<std::ptrdiff_t>(nb), t.support.begin());
      std::copy(p.payload.begin() + static_cast<std::ptrdiff_t>(nb), p.payload.end(), t.negative.begin());
      return;
    case Encoding::sparse_sign: {
      SparseSigns& s = scratch.sparse;
      decode_sparse_into(p, s);
      for (std::size_t j = 0; j < s.index.size(); ++j) {
        const std::uint32_t i = s.index[j];
        t.support[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7));
        if (s.negative[j]) t.negative[i >> 3] |= static_cast<std::uint8_t>(1u << (i & 7));
      }
      return;
    }
    case Encoding::runs_sign:
      decode_runs_into(p, &t);
      return;
    case Encoding::float32:
      break;
  }
  fail("float32 packet where signs were expected");
}

std::vector<float> decode_float32(const PacketView& p) {
  std::vector<float> x;
  decode_float32_into(p, x);
  return x;
}

void decode_float32_into(const PacketView& p, std::vector<float>& x) {
  if (p.encoding != Encoding::float32) fail("expected a float32 packet");
  validate(p, 0);
  x.resize(p.dim);
  if (p.dim > 0) std::memcpy(x.data(), p.payload.data(), std::size_t{p.dim} * 4);
}

double paper_sparse_bits(std::uint64_t n, std::uint64_t k) {
  if (k == 0) return 0.0;
  return static_cast<double>(k) * (1.0 + std::log2(static_cast<double>(n) / static_cast<double>(k)));
}

double entropy_sparse_bits(std::uint64_t n, std::uint64_t k) {
  if (k == 0 || k > n) return 0.0;
  const double lg = std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
                    std::lgamma(static_cast<double>(n - k) + 1);
  return lg / std::log(2.0) + static_cast<double>(k);
}

}  // namespace signfed::codec
