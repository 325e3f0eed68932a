// ZeroMQ CURVE keys, allowlists and socket monitoring, shared by the
// coordinator, the edge client, signfed-keygen and signfed-load.
//
// Key files hold one Z85-encoded key (40 characters) on a line; blank lines,
// lines starting with '#' and anything after the key (separated by a blank)
// are comments. (Z85 itself uses '#': a key may start with it.) A key pair is
// two files: NAME.key (the secret key, mode 0600) and NAME.pub (the public
// key). An allowlist is a file of public keys in the same syntax, one per
// line, each optionally followed by the one board name the key may join as
// ("KEY edge-3  # lab bench"; signfed-keygen writes that). A key without a
// name is bound to the first name it joins with. Every reader throws
// CurveError with a message naming the file, the line and what to do.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include <zmq.hpp>

namespace signfed::curve {

class CurveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// True when the linked libzmq was built with CURVE (libsodium).
bool available();
// A fresh key pair (libzmq's zmq_curve_keypair). Throws CurveError without CURVE.
KeyPair generate();
// The public key of a Z85 secret key.
std::string public_of(const std::string& secret_z85);
// True if s is a well-formed Z85 CURVE key (40 characters that decode to 32 bytes).
bool is_z85_key(const std::string& s);
// Z85 text of a 32-byte binary key.
std::string z85_of(const std::uint8_t* key32);

// Reads the single key of a key file.
std::string read_key_file(const std::string& path);
// Public key (Z85) -> the board name it is bound to ("": none listed).
using Allowlist = std::map<std::string, std::string>;
// Reads an allowlist (zero or more public keys, each at most once).
Allowlist read_allowlist(const std::string& path);
// Writes stem.key (secret, 0600) and stem.pub; refuses to overwrite unless force.
void write_key_pair(const std::string& stem, const KeyPair& k, bool force);

// Client side: makes `s` a CURVE client of the server whose public key is
// server_public, presenting the pair read from secret_key_path (its public
// key is derived from the secret). Call before connect().
void make_client(zmq::socket_t& s, const std::string& secret_key_path, const std::string& server_public_path);

// A socket monitor polled without blocking by the thread that owns the
// monitored socket: cppzmq's monitor_t, whose event callbacks queue the
// events for next(). Destroy it before the monitored socket.
struct MonitorEvent {
  std::uint16_t event = 0;  // ZMQ_EVENT_*
  std::int32_t value = 0;   // errno, fd or handshake status code (e.g. 400)
  std::string address;
};

class SocketMonitor final : private zmq::monitor_t {
 public:
  // events: a ZMQ_EVENT_* mask (accept failures and handshake outcomes are
  // reported). The inproc address is made unique per monitor.
  SocketMonitor(zmq::context_t& ctx, zmq::socket_t& monitored, int events);
  SocketMonitor(const SocketMonitor&) = delete;
  SocketMonitor& operator=(const SocketMonitor&) = delete;
  // The next queued event, if any (never blocks).
  std::optional<MonitorEvent> next();

 private:
  void queue(const zmq_event_t& e, const char* addr) { events_.push_back({e.event, e.value, addr ? addr : ""}); }
  void on_event_accept_failed(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_handshake_failed_no_detail(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_handshake_failed_protocol(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_handshake_failed_auth(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_handshake_succeeded(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_accepted(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_disconnected(const zmq_event_t& e, const char* a) override { queue(e, a); }
  void on_event_closed(const zmq_event_t& e, const char* a) override { queue(e, a); }
  std::deque<MonitorEvent> events_;
};

}  // namespace signfed::curve
