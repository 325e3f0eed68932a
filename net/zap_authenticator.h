// ZAP (ZeroMQ RFC 27) handler over an allowlist file: a REP socket on
// inproc://zeromq.zap.01 that admits CURVE clients whose public key is listed.
// The allowlist is re-read when its modification time changes, so boards can
// be added without a restart; a file that stops parsing keeps the last good
// list. One per ZeroMQ context (the ZAP endpoint is per context).
// Thread-safety: owned and served by the thread that owns the secured socket.
#pragma once

#include <ctime>
#include <optional>
#include <set>
#include <string>

#include <zmq.hpp>

namespace signfed::net {

class ZapAuthenticator {
 public:
  // Throws std::runtime_error when the endpoint is taken or the allowlist
  // cannot be read (curve::CurveError when it does not parse).
  ZapAuthenticator(zmq::context_t& ctx, std::string allowlist_path);

  zmq::socket_t& socket() { return rep_; }
  std::size_t size() const { return keys_.size(); }
  const std::string& path() const { return path_; }

  struct Decision {
    bool allowed = false;
    std::string key, address, why;
  };
  // Serves one queued request without blocking; nullopt when none is queued.
  std::optional<Decision> serve_one();

 private:
  void reload(bool first);

  std::string path_;
  zmq::socket_t rep_;
  std::set<std::string> keys_;
  timespec mtime_{};
};

}  // namespace signfed::net
