// CURVE end to end: only allowlisted keys join; strangers leave nothing in the
// log but a rejection row; plaintext needs an explicit --insecure.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "schema/wire.h"
#include "tests/e2e/federation.h"

using namespace signfed;
using namespace signfed::test;
namespace fb = flatbuffers;

TEST_CASE("security: a listed key trains, an unknown key is rejected and only logged as auth_rejected") {
  Federation f;
  f.make_keys(3, 2);  // edge-2's key is not in the allowlist
  f.start_coordinator(2, {"--rounds", "20", "--eval-every", "20", "--lr", "0.001", "--batch", "64"});
  f.start_edges(3, {"--partition", "iid"});
  // A plaintext client knocking on the CURVE port with a Join.
  zmq::context_t ctx;
  zmq::socket_t plain(ctx, zmq::socket_type::dealer);
  plain.set(zmq::sockopt::linger, 0);
  plain.connect(f.endpoint);
  {
    fb::FlatBufferBuilder fbb;
    auto j = wire::CreateJoin(fbb, wire::kProtocolVersion, fbb.CreateString("plain"), fbb.CreateString("Linux"),
                              fbb.CreateString("x86_64"), fbb.CreateString("mlp:784-128-10"), 101770, 1,
                              fbb.CreateString("raw"));
    auto b = wire::finish_envelope(fbb, j);
    (void)plain.send(zmq::buffer(b.data(), b.size()), zmq::send_flags::dontwait);
  }
  const int stranger_rc = f.edges[2]->wait(120);
  INFO(f.edges[2]->output());
  CHECK(stranger_rc == 1);
  CHECK(f.edges[2]->output().find("rejected our CURVE key") != std::string::npos);
  f.require_coordinator_success(300);
  INFO(f.coordinator->output());
  CHECK(f.coordinator->output().find("CURVE transport") != std::string::npos);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM rounds") == 20);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients") == 2);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM clients WHERE name IN ('edge-2', 'plain')") == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM updates WHERE client_id NOT IN (SELECT client_id FROM clients)") == 0);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind='auth_rejected'") >= 1);
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind NOT IN ('auth_rejected', 'transport')") == 0);
  const std::string stranger_key = [&] {
    std::ifstream in(f.dir.path + "/edge-2.pub");
    std::string line, key;
    while (std::getline(in, line))
      if (!line.empty() && line[0] != '#') key = line.substr(0, 40);
    return key;
  }();
  CHECK(query_number(f.db, "SELECT COUNT(*) FROM events WHERE kind='auth_rejected' AND instr(detail, '" + stranger_key +
                               "') > 0 AND instr(detail, '127.0.0.1') > 0") >= 1);
  CHECK(query_number(f.db, "SELECT MAX(round) FROM rounds") == 19);
  f.check_edges_final_model(2);  // not the stranger, edge-2
}

TEST_CASE("security: plaintext needs --insecure on both sides, and the coordinator says so loudly") {
  TempDir dir;
  Process c(SIGNFED_COORDINATOR_BIN, {"--db", dir.path + "/x.sqlite", "--endpoint", "tcp://127.0.0.1:1"},
            dir.path + "/c.log");
  CHECK(c.wait(30) == 2);
  CHECK(c.output().find("--insecure") != std::string::npos);
  Process e(SIGNFED_EDGE_BIN, {"--connect", "tcp://127.0.0.1:1"}, dir.path + "/e.log");
  CHECK(e.wait(60) == 2);
  CHECK(e.output().find("--insecure") != std::string::npos);

  Federation f;
  f.start_coordinator(1, {"--rounds", "2", "--eval-every", "0"});
  f.start_edges(1, {});
  REQUIRE(f.coordinator->wait(120) == 0);
  CHECK(f.coordinator->output().find("WARNING") != std::string::npos);
  CHECK(f.coordinator->output().find("PLAINTEXT") != std::string::npos);
  CHECK(query_text(f.db, "SELECT detail FROM events WHERE kind='transport'").find("PLAINTEXT") == 0);
}
