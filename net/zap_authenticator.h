// ZAP (ZeroMQ RFC 27) handler over an allowlist file: a REP socket on
// inproc://zeromq.zap.01 that admits CURVE clients whose public key is listed.
// The allowlist is re-read when its modification time changes (at each
// handshake, and when the owner calls refresh()), so boards can be added or
// revoked without a restart; a file that stops parsing keeps the last good
// list. One per ZeroMQ context (the ZAP endpoint is per context).
// Thread-safety: owned and served by the thread that owns the secured socket.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "net/curve.h"

namespace signfed::net {

class ZapAuthenticator {
 public:
  // Throws std::runtime_error when the endpoint is taken or the allowlist
  // cannot be read (curve::CurveError when it does not parse).
  ZapAuthenticator(zmq::context_t& ctx, std::string allowlist_path);

  zmq::socket_t& socket() { return rep_; }
  std::size_t size() const { return keys_.size(); }
  const std::string& path() const { return path_; }
  // The listed key's entry (board name, maybe ""), or nullptr if not listed.
  const std::string* find(const std::string& key) const;
  // Re-reads the file if it changed; returns the keys it no longer lists.
  std::vector<std::string> refresh();

  struct Decision {
    bool allowed = false;
    std::string key, address, why;
  };
  // Serves one queued request without blocking; nullopt when none is queued.
  std::optional<Decision> serve_one();

 private:
  void reload(bool first);  // keys dropped or re-bound go to revoked_

  std::string path_;
  zmq::socket_t rep_;
  curve::Allowlist keys_;
  std::vector<std::string> revoked_;  // since the last refresh()
  timespec mtime_{};  // the file as last read: reloaded when any of these differ
  off_t size_ = 0;
  ino_t inode_ = 0;
};

}  // namespace signfed::net
