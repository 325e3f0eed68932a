// SIGINT/SIGTERM as a stop token for the run loops of the coordinator and the
// edge (and a process's only mutable global state: signal handlers can reach
// nothing else). The handlers are installed without SA_RESTART, so a blocked
// wait returns EINTR at once and the loop reads the token; every wait also
// polls at most 1 s. A second signal while stopping ends the process by the
// default action (SQLite transactions keep the log consistent).
// Exit codes: 128 + signal (130 SIGINT, 143 SIGTERM), the shell convention.
#pragma once

#include <atomic>

namespace signfed::net {

// Installs the SIGINT and SIGTERM handlers; returns the token they set.
const std::atomic<bool>& install_stop_signals();
// The signal that set the token, 0 if none did.
int stop_signal();
// "SIGINT", "SIGTERM", or "the stop token" (set without a signal).
const char* stop_signal_name();

}  // namespace signfed::net
