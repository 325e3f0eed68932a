// Sign packets: the compressed vectors that cross the wire (uplink updates and
// downlink vote results). Layouts are specified in schema/FORMAT.md.
//
// Encoders take plain spans and return an owning SignPacket. Decoders take a
// PacketView (non-owning; built from a SignPacket or straight from a verified
// FlatBuffers message) and validate everything before use: a malformed packet
// raises CodecError with a one-line reason, never undefined behaviour. This is
// the module's one error style; callers at the network edge catch it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "schema/signfed_generated.h"

namespace signfed::codec {

using wire::Encoding;

class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a packet says about its payload (FORMAT.md), owned or viewed alike.
struct PacketHeader {
  Encoding encoding = Encoding::dense_sign;
  std::uint32_t dim = 0;
  std::uint32_t nnz = 0;
  std::uint8_t rice_k = 0;
  float scale = 1.0f;
};

// Aggregates: PacketView{encoding, dim, nnz, rice_k, scale, payload} still
// initialises the header's fields in order, then the payload.
struct SparseSigns;

struct PacketView : PacketHeader {
  std::span<const std::uint8_t> payload;
  // Optional, sparse_sign only: the payload already decoded, equal to
  // decode_sparse(*this) -- set where the packet was validated by decoding it
  // (validate(p, dim, &decoded)), so a consumer (the sparse vote) need not walk
  // it again. Not owned: it lives as long as the SignPacket the view came from.
  const SparseSigns* sparse = nullptr;
};

struct SignPacket : PacketHeader {
  std::vector<std::uint8_t> payload;
  // Optional: payload decoded by the validation that admitted it (PacketView::sparse).
  // Whoever sets it vouches that it equals decode_sparse(view()); the *_into
  // encoders reset it when they reuse the packet.
  std::shared_ptr<const SparseSigns> sparse = nullptr;

  PacketView view() const { return {*this, payload, sparse.get()}; }
  std::size_t payload_bytes() const { return payload.size(); }
  // An owned copy of a viewed packet (the header and the payload bytes), e.g.
  // to keep a received update after its frame is gone.
  static SignPacket copy_of(const PacketView& v) { return {PacketHeader(v), {v.payload.begin(), v.payload.end()}}; }
};

// A vector in {-1, 0, +1}^dim as two bitmaps (FORMAT.md bit order): support bit
// set = coordinate moves; negative bit set = it moves by -1 (subset of support).
struct TernarySigns {
  std::uint32_t dim = 0;
  std::vector<std::uint8_t> support;
  std::vector<std::uint8_t> negative;

  static TernarySigns zeros(std::uint32_t dim);
  std::uint64_t nnz() const;
  int at(std::uint32_t i) const {  // -1, 0 or +1
    if (!((support[i >> 3] >> (i & 7)) & 1u)) return 0;
    return ((negative[i >> 3] >> (i & 7)) & 1u) ? -1 : 1;
  }
};

// Sparse signs: sorted support and a sign per entry.
struct SparseSigns {
  std::uint32_t dim = 0;
  std::vector<std::uint32_t> index;   // strictly increasing, < dim
  std::vector<std::uint8_t> negative; // 1 = -1, 0 = +1; same length as index
};

// ---- encoders ----------------------------------------------------------
// dense_sign from precomputed packed bits (packed_bytes(dim) bytes).
SignPacket make_dense_packet(std::uint32_t dim, std::vector<std::uint8_t> bits, float scale);
// sparse_sign for the entries idx (sorted ascending, < dim) with signs taken
// from values[idx[j]] (IEEE sign bit). Chooses the Rice parameter that
// minimises the size.
SignPacket encode_sparse(std::uint32_t dim, std::span<const std::uint32_t> idx, std::span<const float> values);
SignPacket encode_sparse(const SparseSigns& s);
SignPacket encode_float32(std::span<const float> x);
// runs_sign: the support as alternating run lengths, then the nnz sign bits
// (FORMAT.md). Near 1 bit per coordinate when zeros are few, and cheaper than
// that when they come in runs (dead ReLU units, constant input pixels).
SignPacket encode_runs(const TernarySigns& t);
// The smallest exact coding of t: dense_sign if every coordinate moves,
// else the smallest of runs_sign, sparse_sign and ternary.
SignPacket encode_ternary_best(const TernarySigns& t);
// sgn(x) in {-1, 0, +1} per coordinate with sgn(0) = 0, -0.0 included
// (Safaryan footnote 2; S3GD-MV after eq. (4)): a zero coordinate abstains.
TernarySigns ternary_signs(std::span<const float> x);

// ---- decoders (validate first; throw CodecError) -------------------------
// Full structural check; expected_dim (if nonzero) must equal dim.
void validate(const PacketView& p, std::uint32_t expected_dim);
// The same check; a sparse_sign packet is decoded into *decoded on the way
// (one walk for both), other encodings leave it untouched.
void validate(const PacketView& p, std::uint32_t expected_dim, SparseSigns* decoded);
SparseSigns decode_sparse(const PacketView& p);
TernarySigns decode_ternary(const PacketView& p);      // any sign encoding -> ternary
std::vector<float> decode_float32(const PacketView& p);

// ---- the same, into caller-owned buffers ----------------------------------
// Each owning form above is built on its _into form, so the two give the same
// bits. Buffers keep their capacity between calls: once sized by the first
// rounds, an edge client encodes its update and decodes the vote result
// without allocating (a payload larger than every earlier one still grows its
// vector). Not thread-safe: one scratch per caller.
struct CodecScratch {
  SparseSigns sparse;    // sparse_sign entries (room for dim of them once used)
  SignPacket candidate;  // encode_ternary_best's runs_sign coding
};
void zeros_into(std::uint32_t dim, TernarySigns& out);
void ternary_signs_into(std::span<const float> x, TernarySigns& out);
void encode_sparse_into(const SparseSigns& s, SignPacket& out);
void encode_float32_into(std::span<const float> x, SignPacket& out);
void encode_runs_into(const TernarySigns& t, SignPacket& out);
void encode_ternary_best_into(const TernarySigns& t, CodecScratch& scratch, SignPacket& out);
void decode_sparse_into(const PacketView& p, SparseSigns& out);
void decode_ternary_into(const PacketView& p, CodecScratch& scratch, TernarySigns& out);
void decode_float32_into(const PacketView& p, std::vector<float>& out);

// ---- sizes ---------------------------------------------------------------
// Bits the S3GD-MV paper charges for K of N coordinates: K + K*log2(N/K) (Table 2).
double paper_sparse_bits(std::uint64_t n, std::uint64_t k);
// Information-theoretic floor for a K-subset plus K signs: log2 C(N,K) + K.
double entropy_sparse_bits(std::uint64_t n, std::uint64_t k);

}  // namespace signfed::codec
