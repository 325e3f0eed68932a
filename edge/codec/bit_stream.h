// LSB-first bit writer/reader and the Rice code used for sparse index gaps
// (schema/FORMAT.md, "sparse_sign"). Bit j of the stream is bit j%8 of byte j/8.
//
// BitReader never reads past its span: every read is bounds-checked and a
// failed read sets ok() to false and returns 0, so decoders can read a whole
// record and test once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace signfed::codec {

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}

  // Appends the low `bits` bits of value (bits <= 32), LSB first.
  void put(std::uint32_t value, unsigned bits) {
    acc_ |= static_cast<std::uint64_t>(value & mask(bits)) << fill_;
    fill_ += bits;
    while (fill_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
    total_ += bits;
  }
  // Rice(k): q = v >> k as q one-bits and a zero, then the k low bits of v.
  void put_rice(std::uint32_t v, unsigned k) {
    std::uint32_t q = v >> k;
    while (q >= 32) {
      put(0xFFFFFFFFu, 32);
      q -= 32;
    }
    put((1u << q) - 1u, q + 1);  // q ones, then the terminating zero
    if (k > 0) put(v, k);
  }
  // Pads the last byte with zero bits.
  void flush() {
    if (fill_ > 0) out_.push_back(static_cast<std::uint8_t>(acc_));
    acc_ = 0;
    fill_ = 0;
  }
  std::uint64_t bits_written() const { return total_; }

 private:
  static std::uint64_t mask(unsigned bits) { return bits >= 32 ? 0xFFFFFFFFull : ((1ull << bits) - 1); }
  std::vector<std::uint8_t>& out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
  std::uint64_t total_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> in) : in_(in) {}

  std::uint32_t get(unsigned bits) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < bits; ++b) v |= static_cast<std::uint32_t>(bit()) << b;
    return v;
  }
  // Reads a Rice(k) value; fails (ok() == false) if the quotient exceeds max_q.
  std::uint32_t get_rice(unsigned k, std::uint32_t max_q) {
    std::uint32_t q = 0;
    while (ok_ && bit() == 1) {
      if (++q > max_q) {
        ok_ = false;
        return 0;
      }
    }
    const std::uint64_t v = (static_cast<std::uint64_t>(q) << k) | get(k);
    if (v > 0xFFFFFFFFull) ok_ = false;
    return static_cast<std::uint32_t>(v);
  }
  bool ok() const { return ok_; }
  std::uint64_t position() const { return pos_; }

 private:
  unsigned bit() {
    if (pos_ >= in_.size() * 8) {
      ok_ = false;
      return 0;
    }
    const unsigned b = (in_[pos_ >> 3] >> (pos_ & 7)) & 1u;
    ++pos_;
    return b;
  }
  std::span<const std::uint8_t> in_;
  std::uint64_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace signfed::codec
