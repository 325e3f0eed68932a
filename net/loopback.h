// A TCP port on 127.0.0.1 that is free right now (the kernel picks it), for
// starting a coordinator and its clients as processes on one machine
// (signfed-sim --processes, tests). Another process may take it before it is
// bound again. Throws std::runtime_error when no socket can be bound.
#pragma once

namespace signfed::net {

int free_loopback_port();

}  // namespace signfed::net
