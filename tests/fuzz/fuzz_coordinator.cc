// libFuzzer target: the coordinator's message handler (Coordinator::handle_frame)
// without a network: a fresh coordinator per input (in-memory SQLite,
// net::MemoryTransport, a 46-parameter MLP), fed a sequence of records:
//   op (1 byte), length (2 bytes LE), frame bytes
// op 0xF0: open the next round (all live clients selected); 0xF1: close it
// (vote, log, broadcast); otherwise the frame comes from peer "p<op&3>",
// authenticated as key K<op>>2&1> when bit 2 is set.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "coordinator/coordinator.h"
#include "net/memory_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace signfed;
  coord::CoordinatorConfig cfg;
  cfg.db_path = ":memory:";
  cfg.quiet = true;
  cfg.model = "mlp:8-4-2";
  cfg.eval_every = 0;
  cfg.checkpoint_every = 0;
  cfg.clients = 1;
  cfg.rounds = 1000;
  cfg.suspect_min_rounds = 2;
  if (size > 0) {
    // The first byte picks the method, so that every encoding path is reachable.
    static const wire::Method methods[] = {wire::Method::signsgd, wire::Method::s3gd, wire::Method::signum,
                                           wire::Method::fedavg, wire::Method::randk, wire::Method::efsign};
    cfg.method.method = methods[data[0] % 6];
    cfg.method.gamma = 0.25f;
    ++data;
    --size;
  }
  auto clock = std::make_unique<net::ManualClock>();
  auto transport = std::make_unique<net::MemoryTransport>(*clock);
  coord::Coordinator c(cfg, std::move(transport), std::move(clock));
  c.open_for_test();
  std::uint32_t round = 0;
  bool open = false;
  std::size_t i = 0;
  while (i + 3 <= size) {
    const std::uint8_t op = data[i];
    const std::size_t len = data[i + 1] | (std::size_t{data[i + 2]} << 8);
    i += 3;
    const std::size_t n = std::min(len, size - i);
    if (op == 0xF0) {
      if (open) c.finish_round_for_test();
      c.begin_round_for_test(round++);
      open = true;
    } else if (op == 0xF1) {
      if (open) c.finish_round_for_test();
      open = false;
    } else {
      const std::string peer = "p" + std::to_string(op & 3);
      const std::string key = (op & 4) ? std::string(40, (op & 8) ? 'A' : 'B') : std::string();
      c.handle_frame(peer, {data + i, n}, key);
    }
    i += n;
  }
  if (open) c.finish_round_for_test();
  return 0;
}
