// net/: key files and allowlists as users write them, the ZAP handler's
// decisions and its reload when the allowlist changes, and MemoryTransport.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <fstream>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "net/curve.h"
#include "net/memory_transport.h"
#include "net/router_transport.h"
#include "net/zap_authenticator.h"
#include "tests/support/temp_db.h"

using namespace signfed;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
}

// Bumps the file's mtime by `seconds` (the handler reloads on a change of mtime;
// two writes within one clock tick would otherwise look the same).
void touch_later(const std::string& path, int seconds) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  const timespec times[2] = {st.st_atim, {st.st_mtim.tv_sec + seconds, st.st_mtim.tv_nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// One ZAP request (RFC 27) for a CURVE client with public key `z85`, served by
// `zap`; returns the status code the handler replied.
std::string ask(zmq::context_t& ctx, net::ZapAuthenticator& zap, const std::string& z85) {
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect("inproc://zeromq.zap.01");
  std::array<std::uint8_t, 32> key{};
  REQUIRE(zmq_z85_decode(key.data(), z85.c_str()) != nullptr);
  std::array<zmq::const_buffer, 7> msg = {zmq::str_buffer("1.0"), zmq::str_buffer("7"), zmq::str_buffer("signfed"),
                                          zmq::str_buffer("127.0.0.1"), zmq::str_buffer(""), zmq::str_buffer("CURVE"),
                                          zmq::buffer(key)};
  REQUIRE(zmq::send_multipart(req, msg));
  std::optional<net::ZapAuthenticator::Decision> d;
  for (int i = 0; i < 1000 && !d; ++i) {
    zmq::pollitem_t item{zap.socket().handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(10));
    d = zap.serve_one();
  }
  REQUIRE(d);
  std::vector<zmq::message_t> reply;
  REQUIRE(zmq::recv_multipart(req, std::back_inserter(reply)));
  REQUIRE(reply.size() == 6);
  CHECK(reply[1].to_string() == "7");
  CHECK(d->key == z85);
  return reply[2].to_string();
}

}  // namespace

TEST_CASE("keys: a pair written by signfed-keygen reads back, with comments, blank lines and trailing words") {
  test::TempDb dir("k");
  const curve::KeyPair k = curve::generate();
  curve::write_key_pair(dir.path, k, false);
  CHECK(curve::read_key_file(dir.path + ".key") == k.secret_key);
  CHECK(curve::read_key_file(dir.path + ".pub") == k.public_key);
  CHECK(curve::public_of(k.secret_key) == k.public_key);
  CHECK_THROWS_AS(curve::write_key_pair(dir.path, k, false), curve::CurveError);  // no silent overwrite
  struct stat st{};
  REQUIRE(::stat((dir.path + ".key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  const std::string allow = dir.dir + "/clients.allow";
  const curve::KeyPair k2 = curve::generate();
  const curve::KeyPair k3 = curve::generate();
  write(allow, "# boards in the greenhouse\n\n" + k.public_key + "  board-1\n   " + k2.public_key + "\n" +
                   k3.public_key + " board-3  # by the door\n");
  const auto keys = curve::read_allowlist(allow);
  CHECK(keys.size() == 3);
  CHECK(keys.at(k.public_key) == "board-1");  // KEY NAME: the one board this key may join as
  CHECK(keys.at(k2.public_key).empty());      // no name: bound at its first Join
  CHECK(keys.at(k3.public_key) == "board-3");
}

TEST_CASE("keys: an allowlist line with more than a name after the key, or a key listed twice, is refused") {
  test::TempDb dir("k");
  const std::string allow = dir.dir + "/clients.allow";
  const std::string key = curve::generate().public_key;
  write(allow, key + " board-1 board-2\n");
  CHECK_THROWS_WITH_AS(curve::read_allowlist(allow), doctest::Contains("one board name"), curve::CurveError);
  write(allow, key + " board-1\n" + key + " board-2\n");
  CHECK_THROWS_WITH_AS(curve::read_allowlist(allow), doctest::Contains("clients.allow:2: key listed twice"),
                       curve::CurveError);
}

TEST_CASE("keys: a line that is neither a key nor a comment is refused with the file and line") {
  test::TempDb dir("k");
  const std::string allow = dir.dir + "/clients.allow";
  write(allow, "# ok\n" + curve::generate().public_key + "\nnot-a-key\n");
  CHECK_THROWS_WITH_AS(curve::read_allowlist(allow), doctest::Contains("clients.allow:3"), curve::CurveError);
  CHECK_THROWS_WITH_AS(curve::read_key_file(dir.dir + "/missing.key"), doctest::Contains("cannot read key file"),
                       curve::CurveError);
  write(allow, curve::generate().public_key + "\n" + curve::generate().public_key + "\n");
  CHECK_THROWS_WITH_AS(curve::read_key_file(allow), doctest::Contains("holds 2 keys"), curve::CurveError);
  CHECK(!curve::is_z85_key("short"));
}

TEST_CASE("ZAP: listed keys are admitted, others refused, and a changed allowlist is re-read (a broken one is not)") {
  test::TempDb dir("k");
  const std::string allow = dir.dir + "/clients.allow";
  const curve::KeyPair a = curve::generate(), b = curve::generate();
  write(allow, a.public_key + "\n");
  zmq::context_t ctx;
  net::ZapAuthenticator zap(ctx, allow);
  CHECK(zap.size() == 1);
  CHECK(ask(ctx, zap, a.public_key) == "200");
  CHECK(ask(ctx, zap, b.public_key) == "400");

  write(allow, a.public_key + "\n" + b.public_key + "\n");  // a board added without a restart
  touch_later(allow, 2);
  CHECK(ask(ctx, zap, b.public_key) == "200");
  CHECK(zap.size() == 2);

  write(allow, "garbage\n");  // an editor's half-written file: keep the last good list
  touch_later(allow, 4);
  CHECK(ask(ctx, zap, b.public_key) == "200");
  CHECK(zap.size() == 2);
}

TEST_CASE("ZAP: keys appended within the clock tick of the last read are seen (same mtime, larger file)") {
  test::TempDb dir("k");
  const std::string allow = dir.dir + "/clients.allow";
  const curve::KeyPair a = curve::generate(), b = curve::generate();
  write(allow, a.public_key + "\n");
  struct stat before{};
  REQUIRE(::stat(allow.c_str(), &before) == 0);
  zmq::context_t ctx;
  net::ZapAuthenticator zap(ctx, allow);
  std::ofstream(allow, std::ios::app) << b.public_key << "\n";
  const timespec same[2] = {before.st_atim, before.st_mtim};  // as if in the same tick
  REQUIRE(::utimensat(AT_FDCWD, allow.c_str(), same, 0) == 0);
  CHECK(ask(ctx, zap, b.public_key) == "200");
  CHECK(zap.size() == 2);
}

TEST_CASE("ZAP: a coordinator without a readable allowlist does not start") {
  zmq::context_t ctx;
  CHECK_THROWS_WITH_AS(net::ZapAuthenticator(ctx, "/nonexistent/clients.allow"),
                       doctest::Contains("cannot read the allowlist"), std::runtime_error);
}

TEST_CASE("memory transport: frames arrive in order, replies are kept, an idle poll moves the manual clock") {
  net::ManualClock clock;
  net::MemoryTransport t(clock);
  t.deliver("p1", {1, 2, 3}, "K");
  t.deliver("p2", {4});
  std::vector<std::string> seen;
  CHECK(t.poll(
      500, [&](const net::Inbound& m) { seen.push_back(m.peer + ":" + m.key + ":" + std::to_string(m.bytes.size())); },
      [](const net::TransportEvent&) {}));
  CHECK(seen == std::vector<std::string>{"p1:K:3", "p2::1"});
  const double t0 = clock.now_s();
  CHECK(!t.poll(500, [](const net::Inbound&) {}, [](const net::TransportEvent&) {}));
  CHECK(clock.now_s() == t0 + 0.5);
  const std::uint8_t reply[] = {9, 9};
  CHECK(t.send("p1", reply) == 2);
  CHECK(t.send("", reply) == 0);
  REQUIRE(t.sent().size() == 1);
  CHECK(t.sent()[0].peer == "p1");
  CHECK(t.take_sent().size() == 1);
  CHECK(t.sent().empty());
}

TEST_CASE("router transport: send_to_all queues one shared copy that every peer receives whole, and skips unknown peers") {
  zmq::context_t ctx;
  net::RouterOptions opt;
  opt.endpoint = "tcp://127.0.0.1:*";
  opt.max_queued_bytes = 1 << 20;  // below 3 x the message: a copy charged once per peer still fits each queue
  net::RouterTransport router(ctx, opt);
  std::vector<zmq::socket_t> dealers;
  for (int i = 0; i < 3; ++i) {
    zmq::socket_t& d = dealers.emplace_back(ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.connect(router.endpoint());
    d.send(zmq::str_buffer("hello"), zmq::send_flags::none);
  }
  std::vector<std::string> peers;
  for (int tries = 0; tries < 500 && peers.size() < dealers.size(); ++tries)
    router.poll(10, [&](const net::Inbound& in) { peers.push_back(in.peer); }, [](const net::TransportEvent&) {});
  REQUIRE(peers.size() == dealers.size());
  std::vector<std::uint8_t> bytes(400000);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 131 + 7);
  std::vector<std::string> to = peers;
  to.push_back("no such peer");
  const std::size_t sent = router.send_to_all(to, bytes);
  bytes.assign(bytes.size(), 0);  // the transport kept its own copy
  CHECK(sent == 3 * std::size_t{400000});
  for (zmq::socket_t& d : dealers) {
    zmq::message_t got;
    REQUIRE(d.recv(got, zmq::recv_flags::none));
    REQUIRE(got.size() == 400000);
    const auto* b = static_cast<const std::uint8_t*>(got.data());
    bool same = true;
    for (std::size_t i = 0; i < got.size(); ++i) same &= b[i] == static_cast<std::uint8_t>(i * 131 + 7);
    CHECK(same);
  }
  // An empty message reaches everyone too (a null data pointer would skip libzmq's callback).
  CHECK(router.send_to_all(peers, std::span<const std::uint8_t>()) == 0);
  for (zmq::socket_t& d : dealers) {
    zmq::message_t got;
    REQUIRE(d.recv(got, zmq::recv_flags::none));
    CHECK(got.size() == 0);
  }
}
