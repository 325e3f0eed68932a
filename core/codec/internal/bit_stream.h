// LSB-first bit writer/reader and the Rice code used for sparse index gaps
// (schema/FORMAT.md, "sparse_sign"). Bit j of the stream is bit j%8 of byte j/8.
//
// BitReader never reads past its span: every read is bounds-checked and a
// failed read sets ok() to false and returns 0, so decoders can read a whole
// record and test once.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
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
  explicit BitReader(std::span<const std::uint8_t> in) : in_(in), size_(std::uint64_t{in.size()} * 8) {}

  // Reads `bits` (<= 32) bits, LSB first.
  std::uint32_t get(unsigned bits) {
    if (bits == 0) return 0;
    if (!ok_ || pos_ + bits > size_) return fail();
    const std::uint32_t v = static_cast<std::uint32_t>(window(bits));
    pos_ += bits;
    return v;
  }
  // Reads a Rice(k) value; fails (ok() == false) if the quotient exceeds max_q.
  // The unary quotient is counted up to 57 bits at a time.
  std::uint32_t get_rice(unsigned k, std::uint32_t max_q) {
    // Fast path: the whole code (q ones, a zero, k bits) inside one 64-bit load.
    const std::size_t byte = static_cast<std::size_t>(pos_ >> 3);
    if (ok_ && byte + 8 <= in_.size()) {
      std::uint64_t w;
      std::memcpy(&w, in_.data() + byte, 8);
      w >>= pos_ & 7;  // at least 57 valid bits
      const unsigned ones = static_cast<unsigned>(std::countr_one(w));
      if (ones + 1 + k <= 57) {
        if (ones > max_q) return fail();
        const std::uint64_t v = (std::uint64_t{ones} << k) | ((w >> (ones + 1)) & ((std::uint64_t{1} << k) - 1));
        if (v > 0xFFFFFFFFull) return fail();
        pos_ += ones + 1 + k;
        return static_cast<std::uint32_t>(v);
      }
    }
    std::uint64_t q = 0;
    while (true) {
      if (!ok_ || pos_ >= size_) return fail();
      const unsigned avail = static_cast<unsigned>(std::min<std::uint64_t>(57, size_ - pos_));
      const std::uint64_t w = window(avail);
      const unsigned ones = static_cast<unsigned>(std::countr_one(w));
      if (ones < avail) {  // the terminating zero is inside the window
        q += ones;
        pos_ += ones + 1;
        break;
      }
      q += avail;
      pos_ += avail;
      if (q > max_q) return fail();
    }
    if (q > max_q) return fail();
    const std::uint64_t v = (q << k) | get(k);
    if (v > 0xFFFFFFFFull) return fail();
    return static_cast<std::uint32_t>(v);
  }
  bool ok() const { return ok_; }
  std::uint64_t position() const { return pos_; }
  // Continues at bit `pos` (<= the input's size in bits: a caller that read up to there itself).
  void seek(std::uint64_t pos) { pos_ = pos; }

 private:
  std::uint32_t fail() {
    ok_ = false;
    return 0;
  }
  // The next n <= 57 bits (the caller checked they exist).
  std::uint64_t window(unsigned n) const {
    const std::size_t byte = static_cast<std::size_t>(pos_ >> 3);
    std::uint64_t w = 0;
    // A fixed-size copy is one load; a variable-size one is a call to memcpy per read.
    if (byte + 8 <= in_.size()) std::memcpy(&w, in_.data() + byte, 8);
    else std::memcpy(&w, in_.data() + byte, in_.size() - byte);
    return (w >> (pos_ & 7)) & ((std::uint64_t{1} << n) - 1);
  }
  std::span<const std::uint8_t> in_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace signfed::codec
