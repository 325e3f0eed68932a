#include "net/curve.h"

#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <vector>

namespace signfed::curve {
namespace {

// One line of a key file or allowlist: the key and what follows it.
struct KeyLine {
  int line = 0;
  std::string key, rest;  // rest: the text after the key, blanks trimmed
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Z85's alphabet includes '#', so a comment is recognised by position: the
// first blank-separated word of a line is the key if it is a valid Z85 key;
// a line whose first word is not a key must start with '#' (a comment line)
// or be blank.
std::vector<KeyLine> key_lines(const std::string& path, const char* what) {
  std::ifstream f(path);
  if (!f) throw CurveError(std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno));
  std::vector<KeyLine> out;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.size() > 4096) throw CurveError(path + ":" + std::to_string(n) + ": line too long for a key file");
    const std::string t = trim(line);
    if (t.empty()) continue;
    const auto e = t.find_first_of(" \t");
    std::string word = t.substr(0, e);
    if (!is_z85_key(word)) {
      if (t[0] == '#') continue;
      throw CurveError(path + ":" + std::to_string(n) + ": not a Z85 CURVE key (expected 40 characters as written "
                       "by signfed-keygen)");
    }
    out.push_back({n, std::move(word), e == std::string::npos ? std::string() : trim(t.substr(e))});
    if (out.size() > 1000000) throw CurveError(path + ": more than 10^6 keys");
  }
  return out;
}

void require_curve() {
  if (!available())
    throw CurveError("this libzmq has no CURVE support (zmq_has(\"curve\") is false); install Debian's libzmq5 "
                     "built with libsodium, or run with --insecure on a trusted network");
}

}  // namespace

bool available() { return zmq_has("curve") != 0; }

KeyPair generate() {
  require_curve();
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) throw CurveError("zmq_curve_keypair failed: " + std::string(zmq_strerror(zmq_errno())));
  return {pub, sec};
}

std::string public_of(const std::string& secret_z85) {
  require_curve();
  char pub[41];
  if (!is_z85_key(secret_z85) || zmq_curve_public(pub, secret_z85.c_str()) != 0)
    throw CurveError("not a Z85 CURVE secret key");
  return pub;
}

bool is_z85_key(const std::string& s) {
  if (s.size() != 40) return false;
  std::uint8_t bin[32];
  return zmq_z85_decode(bin, s.c_str()) != nullptr;
}

std::string z85_of(const std::uint8_t* key32) {
  char out[41];
  if (!zmq_z85_encode(out, key32, 32)) return {};
  return out;
}

std::string read_key_file(const std::string& path) {
  const auto lines = key_lines(path, "key file");
  if (lines.size() != 1)
    throw CurveError("key file " + path + " holds " + std::to_string(lines.size()) +
                     " keys; expected exactly one (make a pair with signfed-keygen)");
  return lines.front().key;
}

Allowlist read_allowlist(const std::string& path) {
  Allowlist keys;
  for (KeyLine& l : key_lines(path, "allowlist")) {
    const std::string where = path + ":" + std::to_string(l.line) + ": ";
    std::string name;
    if (!l.rest.empty() && l.rest[0] != '#') {  // KEY NAME [# comment]
      const auto e = l.rest.find_first_of(" \t");
      name = l.rest.substr(0, e);
      const std::string after = e == std::string::npos ? std::string() : trim(l.rest.substr(e));
      if (!after.empty() && after[0] != '#')
        throw CurveError(where + "after the key, expected one board name and then nothing or a '# comment'");
      if (name.size() > 128) throw CurveError(where + "board name longer than 128 characters");
    }
    const auto [it, fresh] = keys.emplace(std::move(l.key), name);
    if (!fresh) throw CurveError(where + "key listed twice (one key is one board)");
  }
  return keys;
}

void write_key_pair(const std::string& stem, const KeyPair& k, bool force) {
  const std::string sec = stem + ".key", pub = stem + ".pub";
  struct stat st{};
  if (!force && (::stat(sec.c_str(), &st) == 0 || ::stat(pub.c_str(), &st) == 0))
    throw CurveError(sec + " or " + pub + " exists; pass --force to overwrite");
  {
    const mode_t old = ::umask(077);
    std::ofstream f(sec, std::ios::trunc);
    ::umask(old);
    f << "# signfed CURVE secret key: keep private (never copy it off this machine)\n" << k.secret_key << "\n";
    if (!f) throw CurveError("cannot write " + sec);
  }
  ::chmod(sec.c_str(), 0600);
  std::ofstream f(pub, std::ios::trunc);
  f << "# signfed CURVE public key: give it to the other side (allowlist or --server-key)\n" << k.public_key << "\n";
  if (!f) throw CurveError("cannot write " + pub);
}

void make_client(zmq::socket_t& s, const std::string& secret_key_path, const std::string& server_public_path) {
  require_curve();
  const std::string secret = read_key_file(secret_key_path);
  const std::string server = read_key_file(server_public_path);
  const std::string mine = public_of(secret);
  s.set(zmq::sockopt::curve_serverkey, server);
  s.set(zmq::sockopt::curve_publickey, mine);
  s.set(zmq::sockopt::curve_secretkey, secret);
}

SocketMonitor::SocketMonitor(zmq::context_t&, zmq::socket_t& monitored, int events) {
  static std::atomic<unsigned long long> counter{0};
  init(monitored, "inproc://signfed-monitor-" + std::to_string(counter++), events);
}

std::optional<MonitorEvent> SocketMonitor::next() {
  while (events_.empty() && check_event(0)) {
  }
  if (events_.empty()) return std::nullopt;
  MonitorEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace signfed::curve
