#include "net/zap_authenticator.h"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <zmq_addon.hpp>

#include "net/curve.h"

namespace signfed::net {

ZapAuthenticator::ZapAuthenticator(zmq::context_t& ctx, std::string allowlist_path)
    : path_(std::move(allowlist_path)), rep_(ctx, zmq::socket_type::rep) {
  rep_.set(zmq::sockopt::linger, 0);
  try {
    rep_.bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string("cannot start the ZAP handler: ") + e.what() +
                             " (only one secure coordinator per ZeroMQ context)");
  }
  reload(true);
}

std::optional<ZapAuthenticator::Decision> ZapAuthenticator::serve_one() {
  std::vector<zmq::message_t> req;
  if (!zmq::recv_multipart(rep_, std::back_inserter(req), zmq::recv_flags::dontwait)) return std::nullopt;
  Decision d;
  const std::string request_id = req.size() > 1 ? req[1].to_string() : "";
  if (req.size() >= 6) d.address = req[3].to_string();
  const std::string mechanism = req.size() >= 6 ? req[5].to_string() : "";
  if (req.size() < 7 || req[0].to_string() != "1.0" || mechanism != "CURVE" || req[6].size() != 32) {
    d.why = "not a CURVE handshake (mechanism '" + mechanism.substr(0, 16) + "')";
  } else {
    d.key = curve::z85_of(static_cast<const std::uint8_t*>(req[6].data()));
    reload(false);
    d.allowed = find(d.key) != nullptr;
    if (!d.allowed) d.why = "public key not in the allowlist " + path_;
  }
  std::array<zmq::const_buffer, 6> reply = {
      zmq::str_buffer("1.0"), zmq::buffer(request_id),
      d.allowed ? zmq::str_buffer("200") : zmq::str_buffer("400"),
      d.allowed ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"), zmq::buffer(d.key),
      zmq::const_buffer()};
  (void)zmq::send_multipart(rep_, reply);
  return d;
}

const std::string* ZapAuthenticator::find(const std::string& key) const {
  const auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<std::string> ZapAuthenticator::refresh() {
  reload(false);
  return std::exchange(revoked_, {});
}

void ZapAuthenticator::reload(bool first) {
  struct stat st{};
  if (::stat(path_.c_str(), &st) != 0) {
    if (first) throw std::runtime_error("cannot read the allowlist " + path_ + " (pass --allow FILE of client public keys)");
    return;  // keep the last good list if the file is being replaced
  }
  // mtime alone misses a write in the same clock tick as the last read (the
  // kernel's file times are coarse: a few ms), as when keys are appended right
  // after start-up; an append or a replacement changes the size or the inode.
  if (!first && st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec && st.st_size == size_ &&
      st.st_ino == inode_)
    return;
  try {
    curve::Allowlist fresh = curve::read_allowlist(path_);
    for (const auto& [key, name] : keys_) {
      const auto it = fresh.find(key);
      if (it == fresh.end() || it->second != name) revoked_.push_back(key);  // gone, or bound to another board
    }
    keys_ = std::move(fresh);
    mtime_ = st.st_mtim;
    size_ = st.st_size;
    inode_ = st.st_ino;
  } catch (const curve::CurveError& e) {
    if (first) throw;
    fmt::print(stderr, "signfed-coordinator: allowlist not reloaded, keeping the previous one: {}\n", e.what());
    mtime_ = st.st_mtim;
    size_ = st.st_size;
    inode_ = st.st_ino;
  }
}

}  // namespace signfed::net
