// Writes the seed corpora for the fuzz targets: valid messages of every kind
// (envelope/), valid packets of every encoding (packet/) and valid
// join -> round -> update sequences for each method family (coordinator/).
// Usage: fuzz_seeds OUTDIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/codec/packet.h"
#include "core/codec/wire_packet.h"
#include "tests/support/wire_messages.h"
#include "schema/wire.h"

namespace fb = flatbuffers;
using namespace signfed;
using test::Bytes;
using test::finish;

namespace {

constexpr std::uint32_t kDim = 46;  // mlp:8-4-2, the fuzzed coordinator's model

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& b) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes join(const std::string& name) { return test::join_message(name, "mlp:8-4-2", kDim, "iid 0/1"); }

Bytes update(std::uint32_t round, std::uint32_t client, const codec::SignPacket& p) {
  return test::update_message(round, client, p, 1.5f);
}

std::vector<codec::SignPacket> packets(std::uint32_t dim) {
  std::vector<float> x(dim);
  for (std::uint32_t i = 0; i < dim; ++i) x[i] = (i % 3 == 0 ? -1.0f : 1.0f) * static_cast<float>(i + 1) / 7.0f;
  std::vector<std::uint32_t> idx;
  for (std::uint32_t i = 0; i < dim; i += 5) idx.push_back(i);
  codec::TernarySigns t = codec::TernarySigns::zeros(dim);
  std::vector<codec::SignPacket> out;
  out.push_back(codec::make_dense_packet(dim, Bytes((dim + 7) / 8, 0xa5), 1.0f));
  out.push_back(codec::encode_sparse(dim, idx, x));
  out.push_back(codec::encode_float32(x));
  out.push_back(codec::encode_ternary_best(t));
  // A runs_sign packet (sign(0) = 0: zeros in runs, as dead units give them).
  std::vector<float> z = x;
  for (std::uint32_t i = dim / 4; i < dim / 2; ++i) z[i] = 0.0f;
  out.push_back(codec::encode_runs(codec::ternary_signs(z)));
  return out;
}

Bytes record(std::uint8_t op, const Bytes& frame) {
  Bytes r = {op, static_cast<std::uint8_t>(frame.size() & 0xff), static_cast<std::uint8_t>(frame.size() >> 8)};
  r.insert(r.end(), frame.begin(), frame.end());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const auto ps = packets(kDim);

  // envelope/: one of each message kind.
  {
    int n = 0;
    auto put = [&](const Bytes& b) { write(out / "envelope", "seed-" + std::to_string(n++), b); };
    put(join("edge-0"));
    for (const auto& p : ps) put(update(0, 0, p));
    fb::FlatBufferBuilder a;
    put(finish(a, wire::CreateHeartbeat(a, 0, 1, 123)));
    fb::FlatBufferBuilder b;
    put(finish(b, wire::CreateError(b, wire::ErrorCode::bad_value, b.CreateString("text"), 2)));
    fb::FlatBufferBuilder c;
    put(finish(c, wire::CreateSnapshotRequest(c, 3, 42)));
    fb::FlatBufferBuilder d;
    put(finish(d, wire::CreateGuardReport(d, 3, 0, 1.0f, 0.5f)));
    fb::FlatBufferBuilder e;
    auto mp = wire::CreateMethodParams(e, wire::Method::s3gd, 0.1f, 1.0f, 0.0f, wire::TieRule::zero, 1, 32);
    put(finish(e, wire::CreateRoundTask(e, 4, 99, mp, 0.01f, 1000, false)));
    fb::FlatBufferBuilder f;
    auto pk = wire::CreateSignPacket(f, ps[3].encoding, ps[3].dim, ps[3].nnz, ps[3].rice_k, 1.0f, f.CreateVector(ps[3].payload));
    put(finish(f, wire::CreateVoteResult(f, 4, pk, 0.01f, 0.0f, 77, 3, false)));
    fb::FlatBufferBuilder g;
    std::vector<float> params(kDim, 0.5f);
    put(finish(g, wire::CreateModelSnapshot(g, 1, g.CreateString("mlp:8-4-2"), kDim, 5, 0, 1, 0, g.CreateVector(params),
                                            g.CreateVector(params))));
    fb::FlatBufferBuilder h;
    put(finish(h, wire::CreateWelcome(h, wire::kProtocolVersion, 0, h.CreateString("1"), h.CreateString("mlp:8-4-2"), kDim, 1)));
    fb::FlatBufferBuilder i;
    put(finish(i, wire::CreateBye(i, i.CreateString("done"), 5, 10)));
  }
  // packet/: the fuzz_packet header (encoding, dim24, nnz24, rice_k, scale) + payload.
  {
    int n = 0;
    for (std::uint32_t dim : {kDim, 1000u})
      for (const auto& p : packets(dim)) {
        Bytes b = {static_cast<std::uint8_t>(p.encoding), static_cast<std::uint8_t>(p.dim), static_cast<std::uint8_t>(p.dim >> 8),
                   static_cast<std::uint8_t>(p.dim >> 16), static_cast<std::uint8_t>(p.nnz), static_cast<std::uint8_t>(p.nnz >> 8),
                   static_cast<std::uint8_t>(p.nnz >> 16), p.rice_k};
        const auto* sc = reinterpret_cast<const std::uint8_t*>(&p.scale);
        b.insert(b.end(), sc, sc + 4);
        b.insert(b.end(), p.payload.begin(), p.payload.end());
        write(out / "packet", "seed-" + std::to_string(n++), b);
      }
  }
  // coordinator/: method byte, then two clients join, a round opens, both
  // send a valid update (plus a duplicate and a stale one), the round closes.
  {
    const std::uint8_t methods[] = {0 /*signsgd*/, 1 /*s3gd*/, 3 /*fedavg*/, 2 /*signum*/};
    const std::size_t packet_of[] = {0, 1, 2, 0};
    for (int m = 0; m < 4; ++m) {
      Bytes seq = {methods[m]};
      auto add = [&](const Bytes& r) { seq.insert(seq.end(), r.begin(), r.end()); };
      add(record(0, join("edge-0")));
      add(record(1 | 4, join("edge-1")));
      for (std::uint32_t round = 0; round < 2; ++round) {
        add(record(0xF0, {}));
        add(record(0, update(round, 0, ps[packet_of[m]])));
        add(record(1 | 4, update(round, 1, ps[packet_of[m]])));
        add(record(1 | 4, update(round, 1, ps[packet_of[m]])));
        fb::FlatBufferBuilder g;
        add(record(0, finish(g, wire::CreateSnapshotRequest(g, round, 0))));
        add(record(0xF1, {}));
      }
      add(record(0, update(0, 0, ps[packet_of[m]])));  // replay of an old round
      write(out / "coordinator", "seed-" + std::to_string(m), seq);
    }
  }
  return 0;
}
