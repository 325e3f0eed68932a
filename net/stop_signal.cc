#include "net/stop_signal.h"

#include <csignal>

namespace signfed::net {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal.store(sig);
}

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked wait returns EINTR and the loop sees the token
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return g_stop;
}

int stop_signal() { return g_signal.load(); }

const char* stop_signal_name() {
  const int sig = stop_signal();
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "the stop token";
}

}  // namespace signfed::net
