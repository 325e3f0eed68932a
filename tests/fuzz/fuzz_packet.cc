// libFuzzer target: codec::validate and every decoder (decode_sparse,
// decode_ternary for every sign encoding, runs_sign included, decode_float32) on arbitrary packet headers and payloads.
// Input: encoding (1 byte), dim (3 bytes LE), nnz (3 bytes LE), rice_k (1),
// scale (4, float), then the payload. dim and nnz are 24-bit so that the
// fuzzer explores sizes that fit in memory.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/codec/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace signfed;
  if (size < 12) return 0;
  codec::PacketView v;
  v.encoding = static_cast<wire::Encoding>(data[0]);
  v.dim = data[1] | (data[2] << 8) | (std::uint32_t{data[3]} << 16);
  v.nnz = data[4] | (data[5] << 8) | (std::uint32_t{data[6]} << 16);
  v.rice_k = data[7];
  std::memcpy(&v.scale, data + 8, 4);
  v.payload = {data + 12, size - 12};
  bool valid = true;
  try {
    codec::validate(v, 0);
  } catch (const codec::CodecError&) {
    valid = false;
  }
  // Every decoder must either decode or throw CodecError, valid or not.
  try {
    (void)codec::decode_ternary(v);
  } catch (const codec::CodecError&) {
  }
  try {
    (void)codec::decode_sparse(v);
  } catch (const codec::CodecError&) {
  }
  try {
    (void)codec::decode_float32(v);
  } catch (const codec::CodecError&) {
  }
  if (valid) {
    try {
      codec::validate(v, v.dim);  // same dim expected: must still pass
    } catch (const codec::CodecError&) {
      __builtin_trap();
    }
  }
  return 0;
}
