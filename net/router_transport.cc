#include "net/router_transport.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>
#include <zmq_addon.hpp>

#include "net/clock.h"
#include "net/printable.h"

namespace signfed::net {

namespace {

// A queued message's bytes and its share of its peer's count, returned by the
// free callback (libzmq's I/O thread) when the message has left the queue:
// written to the socket, or dropped with the connection.
struct Queued {
  std::shared_ptr<std::atomic<std::int64_t>> count;
  std::int64_t charge;
};

void release_queued(void* data, void* hint) {
  auto* q = static_cast<Queued*>(hint);
  q->count->fetch_sub(q->charge, std::memory_order_relaxed);
  delete q;
  delete[] static_cast<std::uint8_t*>(data);
}

}  // namespace

// One copy of a message's bytes queued for several peers (send_to_all): the
// last free callback (libzmq's I/O thread, or the caller if no peer took it)
// deletes it.
struct SharedBody {
  std::atomic<std::int64_t> refs{1};  // the sender's own reference, dropped after queueing
  std::vector<std::uint8_t> bytes;
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

namespace {

struct QueuedShared {
  std::shared_ptr<std::atomic<std::int64_t>> count;
  std::int64_t charge;
  SharedBody* body;
};

void release_shared(void*, void* hint) {
  auto* q = static_cast<QueuedShared*>(hint);
  q->count->fetch_sub(q->charge, std::memory_order_relaxed);
  q->body->release();
  delete q;
}

// Bytes a frame of `size` bytes takes on the wire (ZMTP 3 frame header; under
// CURVE the MESSAGE command: name, nonce, MAC and flags byte around the data).
std::uint64_t wire_bytes(std::size_t size, bool curve) {
  const std::uint64_t body = curve ? size + 8 + 8 + 16 + 1 : size;
  return body + (body < 256 ? 2 : 9);
}

// The process's resident bytes, read from /proc/self/statm through a
// descriptor kept open: the watchdog asks 200 times a second, and opening
// the file (and an ifstream) each time was most of an idle coordinator's CPU.
class RssReader {
 public:
  RssReader() : fd_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)), page_(::sysconf(_SC_PAGESIZE)) {}
  ~RssReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  RssReader(const RssReader&) = delete;
  RssReader& operator=(const RssReader&) = delete;
  std::int64_t bytes() const {
    char buf[128];
    const ssize_t n = fd_ >= 0 ? ::pread(fd_, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return 0;
    buf[n] = '\0';
    char* end = nullptr;
    std::strtol(buf, &end, 10);                    // size, pages
    const long resident = std::strtol(end, nullptr, 10);  // resident, pages
    return static_cast<std::int64_t>(resident) * page_;
  }

 private:
  int fd_;
  long page_;
};

std::string peer_address(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return {};
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    port = ntohs(v6->sin6_port);
  } else {
    return {};
  }
  return fmt::format("{}:{}", host, port);
}

std::string hex(const std::string& id) {
  std::string s;
  for (unsigned char c : id) s += fmt::format("{:02x}", c);
  return s;
}

}  // namespace

RouterTransport::RouterTransport(zmq::context_t& ctx, const RouterOptions& opt) {
  if (!opt.insecure) {
    if (opt.secret_key_file.empty() || opt.allowlist_file.empty())
      throw std::runtime_error("a secure coordinator needs --key (its secret key, from signfed-keygen) and --allow "
                               "(the client public keys); or pass --insecure for plaintext on a trusted network");
    zap_ = std::make_unique<ZapAuthenticator>(ctx, opt.allowlist_file);  // before the bind: no unauthenticated window
  }
  router_ = zmq::socket_t(ctx, zmq::socket_type::router);
  router_.set(zmq::sockopt::linger, 0);
  if (opt.max_frame_bytes > 0) router_.set(zmq::sockopt::maxmsgsize, opt.max_frame_bytes);
  // A full queue is an EAGAIN on send (the peer is dropped), not a silent drop.
  router_.set(zmq::sockopt::sndhwm, std::max(1, opt.max_queued_messages));
  router_.set(zmq::sockopt::router_mandatory, true);
  router_.set(zmq::sockopt::rcvhwm, 100000);
  max_queued_bytes_ = opt.max_queued_bytes;
  max_unread_input_ = opt.max_unread_input_bytes > 0
                          ? opt.max_unread_input_bytes
                          : 2 * (opt.max_frame_bytes > 0 ? opt.max_frame_bytes
                                                         : std::int64_t{64} << 20) +
                                (1 << 20);
  curve_ = !opt.insecure;
  if (!opt.insecure) {
    const std::string secret = curve::read_key_file(opt.secret_key_file);
    router_.set(zmq::sockopt::curve_server, true);
    router_.set(zmq::sockopt::curve_secretkey, secret);
    router_.set(zmq::sockopt::zap_domain, "signfed");
  }
  monitor_ = std::make_unique<curve::SocketMonitor>(
      ctx, router_, ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED);
  try {
    router_.bind(opt.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + opt.endpoint + ": " + e.what() +
                             " (is another coordinator running? choose another port with --endpoint)");
  }
  watchdog_ = std::thread([this] { watch(); });
}

RouterTransport::~RouterTransport() {
  stop_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

std::string RouterTransport::endpoint() const { return router_.get(zmq::sockopt::last_endpoint); }

std::string RouterTransport::describe() const {
  if (!zap_) return "PLAINTEXT (insecure): no authentication, no encryption";
  return "CURVE; allowlist " + zap_->path() + " (" + std::to_string(zap_->size()) + " keys)";
}

bool RouterTransport::poll(int timeout_ms, const std::function<void(const Inbound&)>& on_message,
                           const std::function<void(const TransportEvent&)>& on_event) {
  zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                             {zap_ ? zap_->socket().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, zap_ ? 2 : 1, std::chrono::milliseconds(std::min(timeout_ms, 1000)));
  } catch (const zmq::error_t& e) {
    // A signal (SIGINT/SIGTERM) interrupted the wait: not an error. Return so
    // that the caller checks its stop token.
    if (e.num() == EINTR) return false;
    throw;
  }
  drain_events(on_event);
  sweep_queues();
  check_allowlist(on_event);
  if (zap_ && (items[1].revents & ZMQ_POLLIN)) serve_zap(on_event);
  if (!(items[0].revents & ZMQ_POLLIN)) return false;
  // Drain what is queued without blocking.
  for (int n = 0; n < 10000; ++n) {
    std::vector<zmq::message_t> parts;
    const auto got = zmq::recv_multipart(router_, std::back_inserter(parts), zmq::recv_flags::dontwait);
    if (!got) break;
    // What this connection's messages took on the wire, for the watchdog.
    if (parts.size() >= 2) {
      const int fd = zmq_msg_get(parts[1].handle(), ZMQ_SRCFD);
      std::uint64_t bytes = 0;
      for (std::size_t i = 1; i < parts.size(); ++i) bytes += wire_bytes(parts[i].size(), curve_);
      std::lock_guard lock(mu_);
      if (auto it = conns_.find(fd); it != conns_.end()) it->second.consumed += bytes;
    }
    if (!parts.empty()) {
      if (auto it = out_.find(parts[0].to_string()); it != out_.end() && it->second->dropped) {
        ++unheard_;  // a peer dropped for not reading is not heard until its queue drains
        continue;
      }
    }
    if (parts.size() != 2) {
      on_event({parts.empty() ? "?" : parts[0].to_string(), "bad_frame",
                "message with " + std::to_string(parts.size()) + " frames (expected identity + 1)"});
      continue;
    }
    const std::string peer = parts[0].to_string();
    // The CURVE key the ZAP handler admitted this connection with.
    const char* user = zap_ ? zmq_msg_gets(parts[1].handle(), "User-Id") : nullptr;
    const std::string key = user ? user : "";
    on_message({peer, {static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()}, key});
  }
  if (zap_) serve_zap(on_event);  // handshakes waiting while we drained
  return true;
}

void RouterTransport::drain_events(const std::function<void(const TransportEvent&)>& on_event) {
  std::vector<TransportEvent> events;
  {
    std::lock_guard lock(mu_);
    events.swap(watched_events_);
  }
  events.insert(events.end(), pending_.begin(), pending_.end());
  pending_.clear();
  for (const TransportEvent& e : events) on_event(e);
}

std::size_t RouterTransport::send(const std::string& peer, std::span<const std::uint8_t> bytes) {
  return send_one(peer, bytes, nullptr);
}

std::size_t RouterTransport::send_to_all(std::span<const std::string> peers, std::span<const std::uint8_t> bytes) {
  auto* shared = new SharedBody;
  shared->bytes.reserve(std::max<std::size_t>(1, bytes.size()));  // never a null data pointer (libzmq would not call back)
  shared->bytes.assign(bytes.begin(), bytes.end());
  std::size_t sent = 0;
  for (const std::string& peer : peers) sent += send_one(peer, shared->bytes, shared);
  shared->release();
  return sent;
}

std::size_t RouterTransport::send_one(const std::string& peer, std::span<const std::uint8_t> bytes, SharedBody* shared) {
  if (peer.empty()) return 0;
  std::shared_ptr<OutQueue>& slot = out_[peer];
  if (!slot) slot = std::make_shared<OutQueue>();
  OutQueue& q = *slot;
  if (q.dropped) return 0;
  const std::int64_t charge = static_cast<std::int64_t>(bytes.size()) + kQueuedMessageOverhead;
  const std::int64_t queued = q.bytes.load(std::memory_order_relaxed);
  if (max_queued_bytes_ > 0 && queued > 0 && queued + charge > max_queued_bytes_) {
    drop_peer(peer, q,
              fmt::format("{} bytes queued for it, {} more would pass the limit of {}", queued, charge,
                          max_queued_bytes_));
    return 0;
  }
  q.bytes.fetch_add(charge, std::memory_order_relaxed);
  // The OutQueue's count outlives the entry: its callbacks hold it.
  std::shared_ptr<std::atomic<std::int64_t>> count(slot, &slot->bytes);
  zmq::message_t body = [&] {
    if (shared) {  // a reference to the one copy, not a copy per peer
      shared->refs.fetch_add(1, std::memory_order_relaxed);
      return zmq::message_t(shared->bytes.data(), bytes.size(), release_shared, new QueuedShared{count, charge, shared});
    }
    auto* data = new std::uint8_t[std::max<std::size_t>(1, bytes.size())];
    std::copy(bytes.begin(), bytes.end(), data);
    return zmq::message_t(data, bytes.size(), release_queued, new Queued{count, charge});
  }();
  zmq::message_t id(peer.data(), peer.size());
  try {
    if (!router_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {  // EAGAIN: SNDHWM reached
      drop_peer(peer, q, fmt::format("its queue holds the limit of {} messages", router_.get(zmq::sockopt::sndhwm)));
      return 0;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return 0;  // no such connection (any more)
    throw;
  }
  if (!router_.send(body, zmq::send_flags::dontwait)) return 0;
  return bytes.size();
}

void RouterTransport::drop_peer(const std::string& peer, OutQueue& q, const std::string& why) {
  q.dropped = true;
  pending_.push_back({peer, kPeerNotReading, "peer " + hex(peer) + " does not read: " + why +
                                                 "; nothing more is sent to it until it has read what is queued"});
}

void RouterTransport::sweep_queues() {
  // Peers whose queues drained (they read, or the connection closed) are
  // forgotten, and a dropped peer is heard again.
  const double now = system_clock().now_s();
  if (now - last_sweep_ < 0.5) return;
  last_sweep_ = now;
  std::erase_if(out_, [](const auto& kv) { return kv.second->bytes.load(std::memory_order_relaxed) == 0; });
}

KeyGrant RouterTransport::grant(const std::string& key) const {
  if (!zap_) return {true, {}};
  const std::string* name = zap_->find(key);
  return name ? KeyGrant{true, *name} : KeyGrant{false, {}};
}

void RouterTransport::check_allowlist(const std::function<void(const TransportEvent&)>& on_event) {
  // An edited allowlist revokes within a second, handshake or not.
  const double now = system_clock().now_s();
  if (!zap_ || now - last_allowlist_check_ < 1.0) return;
  last_allowlist_check_ = now;
  for (const std::string& key : zap_->refresh())
    on_event({key, kKeyRevoked, "key " + key + " dropped from (or re-bound in) the allowlist " + zap_->path()});
}

void RouterTransport::serve_zap(const std::function<void(const TransportEvent&)>& on_event) {
  for (int n = 0; n < 1000; ++n) {
    auto d = zap_->serve_one();
    if (!d) return;
    if (d->allowed) continue;
    // Nothing of a rejected client reaches the log but this (rate-limited) row.
    on_event({"zap:" + d->key + "@" + d->address, "auth_rejected",
              "key " + (d->key.empty() ? std::string("-") : d->key) + " from " + printable(d->address, 64) + ": " +
                  d->why});
  }
}

void RouterTransport::watch() {
  // Signals go to the owner's thread, whose poll they must interrupt (SIGINT/SIGTERM).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  const RssReader rss_reader;
  auto rss_bytes = [&] { return rss_reader.bytes(); };
  std::int64_t last_rss = rss_bytes();
  double last_scan = system_clock().now_s();
  while (!stop_) {
    // The watchdog's tick; what it finds is decided by byte counts, not by time.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    watch_monitor();
    const std::int64_t rss = rss_bytes();
    const double now = system_clock().now_s();
    last_rss = std::min(last_rss, rss);
    if (rss < last_rss + (2 << 20) && now - last_scan < 1.0) continue;
    scan_connections();
    last_rss = rss_bytes();
    last_scan = now;
  }
}

void RouterTransport::watch_monitor() {
  while (auto e = monitor_->next()) {
    if (e->event == ZMQ_EVENT_ACCEPTED) {
      std::lock_guard lock(mu_);
      conns_[e->value] = {0, peer_address(e->value)};
      continue;
    }
    if (e->event == ZMQ_EVENT_DISCONNECTED || e->event == ZMQ_EVENT_CLOSED) {
      std::lock_guard lock(mu_);
      conns_.erase(e->value);
      continue;
    }
    if (e->event != ZMQ_EVENT_ACCEPT_FAILED) continue;
    const double now = system_clock().now_s();
    if (now - last_accept_warning_ < 5.0) continue;
    last_accept_warning_ = now;
    fmt::print(stderr, "signfed-coordinator: cannot accept a connection on {}: {}{}\n", e->address,
               std::strerror(e->value),
               e->value == EMFILE || e->value == ENFILE
                   ? " -- the open-file limit is exhausted; raise it (ulimit -n) before starting the coordinator"
                   : "");
    std::lock_guard lock(mu_);
    watched_events_.push_back({"accept", "accept_failed", std::strerror(e->value)});
  }
}

void RouterTransport::scan_connections() {
  std::lock_guard lock(mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    const int fd = it->first;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || len < offsetof(tcp_info, tcpi_bytes_received) + 8) {
      ++it;  // not TCP (ipc://), or a kernel without the counter
      continue;
    }
    const auto received = static_cast<std::int64_t>(info.tcpi_bytes_received);
    const std::int64_t unread = received - static_cast<std::int64_t>(it->second.consumed);
    if (unread <= max_unread_input_ || peer_address(fd) != it->second.address) {
      ++it;
      continue;
    }
    // libzmq sees the end of the stream, drops the partial message and closes
    // the fd; no linger, so that close resets the connection at once.
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    ::shutdown(fd, SHUT_RDWR);
    watched_events_.push_back(
        {"conn:" + it->second.address, "bad_frame",
         fmt::format("connection from {} closed: {} bytes received that no complete message accounts for (limit {}): "
                     "a multipart message (signfed sends one frame per message) or a flood",
                     printable(it->second.address, 64), unread, max_unread_input_)});
    it = conns_.erase(it);
  }
}

}  // namespace signfed::net
