// core::Replica and snapshots: the apply rules every replica shares (sign,
// momentum, float32), all-or-nothing on a bad packet, the guarded step's
// rollback, and snapshots of several chunks reassembled in any order.
#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/codec/step.h"
#include "core/codec/packet.h"
#include "core/replica/replica.h"
#include "core/replica/snapshot.h"
#include "schema/wire.h"

using namespace signfed;

namespace {

const std::uint64_t kBasis = codec::architecture_basis("test-model");

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
  return x;
}

codec::TernarySigns signs_for(std::size_t n) {
  std::vector<float> g(n);
  for (std::size_t i = 0; i < n; ++i) g[i] = static_cast<float>(static_cast<int>(i % 3) - 1);  // -1, 0, +1, ...
  return codec::ternary_signs(g);
}

// Each chunk's envelope, copied out so that the test can reorder and alter them.
std::vector<std::vector<std::uint8_t>> chunks_of(const core::Replica& r, std::uint32_t round) {
  std::vector<std::vector<std::uint8_t>> out;
  core::send_snapshot(r, round, "test", [&](std::span<const std::uint8_t> b) {
    out.emplace_back(b.begin(), b.end());
    return b.size();
  });
  return out;
}

const wire::ModelSnapshot& snapshot_in(const std::vector<std::uint8_t>& bytes) {
  std::string why;
  const wire::Envelope* env = wire::verify_envelope(bytes, &why);
  REQUIRE_MESSAGE(env != nullptr, why);
  REQUIRE(env->body_type() == wire::Body::ModelSnapshot);
  return *env->body_as_ModelSnapshot();
}

}  // namespace

TEST_CASE("replica: a sign packet moves the parameters as apply_sign_step, and momentum starts when mu != 0") {
  const std::size_t n = 1000;
  std::vector<float> a = ramp(n, 0.01f), b = a;
  core::Replica r(a, kBasis);
  const codec::TernarySigns s = signs_for(n);
  const codec::SignPacket pk = codec::encode_ternary_best(s);
  r.apply(pk.view(), 0.5f, 0.0f);
  codec::apply_sign_step(b, s, 0.5f);
  CHECK(a == b);
  CHECK(r.momentum().empty());

  r.apply(pk.view(), 0.5f, 0.9f);  // S3GD-MV (25)-(26): v = 0.9*0 + s, x -= 0.5*v
  std::vector<float> v(n, 0.0f);
  codec::apply_momentum_step(b, v, s, 0.9f, 0.5f);
  CHECK(a == b);
  REQUIRE(r.momentum().size() == n);
  r.apply(pk.view(), 0.5f, 0.9f);  // v = 1.9 s
  codec::apply_momentum_step(b, v, s, 0.9f, 0.5f);
  CHECK(a == b);
  // Once momentum exists a result with mu = 0 is still a momentum step (v = s),
  // as on the coordinator, whose buffer exists from the start.
  r.apply(pk.view(), 0.5f, 0.0f);
  codec::apply_momentum_step(b, v, s, 0.0f, 0.5f);
  CHECK(a == b);
  CHECK(std::vector<float>(r.momentum().begin(), r.momentum().end()) == v);
  CHECK(r.digest() == codec::model_digest(b, kBasis));
}

TEST_CASE("replica: a float32 result is a dense step, and a bad packet leaves the replica unchanged") {
  const std::size_t n = 64;
  std::vector<float> a = ramp(n, 1.0f);
  core::Replica r(a, kBasis);
  const std::vector<float> u = ramp(n, 0.25f);
  r.apply(codec::encode_float32(u).view(), 2.0f, 0.0f);
  for (std::size_t i = 0; i < n; ++i) CHECK(a[i] == ramp(n, 1.0f)[i] - 2.0f * u[i]);

  const std::vector<float> before = a;
  const codec::SignPacket wrong_dim = codec::encode_ternary_best(signs_for(n + 1));
  CHECK_THROWS_AS(r.apply(wrong_dim.view(), 1.0f, 0.0f), codec::CodecError);
  CHECK(a == before);
  CHECK(r.momentum().empty());
}

TEST_CASE("replica: roll_back restores parameters and momentum saved before a tentative step") {
  const std::size_t n = 100;
  std::vector<float> a = ramp(n, 0.1f);
  core::Replica r(a, kBasis);
  r.enable_momentum();
  const codec::TernarySigns s = signs_for(n);
  r.apply_signs(s, 0.1f, 0.5f);
  const std::vector<float> params = a;
  const std::vector<float> mom(r.momentum().begin(), r.momentum().end());
  r.save();
  r.apply_signs(s, 0.1f, 0.5f);
  REQUIRE(a != params);
  r.roll_back();
  CHECK(a == params);
  CHECK(std::vector<float>(r.momentum().begin(), r.momentum().end()) == mom);
  CHECK(std::vector<float>(r.saved_params().begin(), r.saved_params().end()) == params);
}

TEST_CASE("replica: assign refuses a model of another size") {
  std::vector<float> a(10, 0.0f);
  core::Replica r(a, kBasis);
  const std::vector<float> p(11, 1.0f), m(10, 1.0f);
  CHECK_THROWS_AS(r.assign(p, {}), std::invalid_argument);
  CHECK_THROWS_AS(r.assign(m, p), std::invalid_argument);
  r.assign(m, m);
  CHECK(a == m);
  CHECK(r.momentum().size() == 10);
  r.assign(m, {});
  CHECK(r.momentum().empty());
}

TEST_CASE("snapshot: three chunks, in reverse order, rebuild parameters and momentum exactly") {
  const std::size_t n = 2 * wire::kSnapshotChunkParams + 1234;  // 3 chunks, the last one short
  std::vector<float> src = ramp(n, 0.001f);
  core::Replica from(src, kBasis);
  from.enable_momentum();
  from.apply_signs(signs_for(n), 0.01f, 0.9f);
  const auto chunks = chunks_of(from, 7);
  REQUIRE(chunks.size() == 3);

  std::vector<float> dst(n, 0.0f);
  core::Replica to(dst, kBasis);
  core::SnapshotAssembler asm_(n, kBasis);
  CHECK(asm_.offer(snapshot_in(chunks[2])) == core::SnapshotAssembler::Offer::partial);
  CHECK(asm_.offer(snapshot_in(chunks[0])) == core::SnapshotAssembler::Offer::partial);
  CHECK(asm_.offer(snapshot_in(chunks[2])) == core::SnapshotAssembler::Offer::partial);  // a repeat changes nothing
  REQUIRE(asm_.offer(snapshot_in(chunks[1])) == core::SnapshotAssembler::Offer::complete);
  CHECK(asm_.round() == 7);
  asm_.install_into(to);
  CHECK(dst == src);
  CHECK(std::vector<float>(to.momentum().begin(), to.momentum().end()) ==
        std::vector<float>(from.momentum().begin(), from.momentum().end()));
  CHECK(to.digest() == from.digest());
  CHECK(!asm_.in_progress());
}

TEST_CASE("snapshot: chunks that do not fit the model are refused, and a wrong digest discards the whole") {
  const std::size_t n = wire::kSnapshotChunkParams + 10;  // 2 chunks
  std::vector<float> src = ramp(n, 0.5f);
  core::Replica from(src, kBasis);
  const auto chunks = chunks_of(from, 3);
  REQUIRE(chunks.size() == 2);

  SUBCASE("a model of another size") {
    core::SnapshotAssembler other(n + 1, kBasis);
    CHECK(other.offer(snapshot_in(chunks[0])) == core::SnapshotAssembler::Offer::malformed);
  }
  SUBCASE("a chunk whose offset does not match its index") {
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<float> p(wire::kSnapshotChunkParams, 1.0f);  // fits at offset 10, but chunk 0 starts at 0
    auto s = wire::CreateModelSnapshot(fbb, 3, fbb.CreateString("test"), n, from.digest(), 0, 2, 10,
                                       fbb.CreateVector(p));
    const auto bytes = wire::finish_envelope(fbb, s);
    core::SnapshotAssembler a(n, kBasis);
    CHECK(a.offer(snapshot_in({bytes.begin(), bytes.end()})) == core::SnapshotAssembler::Offer::malformed);
  }
  SUBCASE("parameters that do not hash to the digest") {
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<float> p(10, 123.0f);  // chunk 1 altered, digest of the original
    auto s = wire::CreateModelSnapshot(fbb, 3, fbb.CreateString("test"), n, from.digest(), 1, 2,
                                       wire::kSnapshotChunkParams, fbb.CreateVector(p));
    const auto bytes = wire::finish_envelope(fbb, s);
    std::vector<float> dst(n, 0.0f);
    core::Replica to(dst, kBasis);
    core::SnapshotAssembler a(n, kBasis);
    CHECK(a.offer(snapshot_in(chunks[0])) == core::SnapshotAssembler::Offer::partial);
    CHECK(a.offer(snapshot_in({bytes.begin(), bytes.end()})) == core::SnapshotAssembler::Offer::digest_mismatch);
    CHECK(!a.in_progress());
    CHECK(dst == std::vector<float>(n, 0.0f));
  }
  SUBCASE("a chunk of a newer snapshot starts over") {
    std::vector<float> src2 = ramp(n, 0.25f);
    core::Replica from2(src2, kBasis);
    const auto newer = chunks_of(from2, 4);
    core::SnapshotAssembler a(n, kBasis);
    CHECK(a.offer(snapshot_in(chunks[0])) == core::SnapshotAssembler::Offer::partial);
    CHECK(a.offer(snapshot_in(newer[1])) == core::SnapshotAssembler::Offer::partial);  // round 4 replaces round 3
    CHECK(a.offer(snapshot_in(newer[0])) == core::SnapshotAssembler::Offer::complete);
    CHECK(a.round() == 4);
  }
}
