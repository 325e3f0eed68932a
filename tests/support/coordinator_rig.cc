#include "tests/support/coordinator_rig.h"

#include <doctest/doctest.h>

#include <utility>

#include "tests/support/sql_query.h"

namespace signfed::test {

CoordinatorRig::CoordinatorRig(coord::CoordinatorConfig cfg, std::initializer_list<const char*> keys,
                               const std::string& reuse_db) {
  if (!reuse_db.empty()) db = reuse_db;
  cfg.db_path = db;
  cfg.quiet = true;
  auto clk = std::make_unique<net::ManualClock>();
  auto t = std::make_unique<net::MemoryTransport>(*clk);
  clock = clk.get();
  transport = t.get();
  for (const char* k : keys) transport->allow(k);
  c = std::make_unique<coord::Coordinator>(std::move(cfg), std::move(t), std::move(clk));
  c->open_for_test();
}

void CoordinatorRig::from(const std::string& peer, const std::vector<std::uint8_t>& frame, const std::string& key) {
  c->handle_frame(peer, frame, key);
}

double CoordinatorRig::q(const std::string& sql) const { return query_number(db, sql); }

std::vector<const wire::Envelope*> CoordinatorRig::received(const std::string& peer) const {
  std::vector<const wire::Envelope*> out;
  for (const auto& f : transport->sent()) {
    if (f.peer != peer) continue;
    std::string why;
    const wire::Envelope* e = wire::verify_envelope(f.bytes, &why);
    REQUIRE_MESSAGE(e != nullptr, why);
    out.push_back(e);
  }
  return out;
}

std::vector<wire::ErrorCode> CoordinatorRig::errors(const std::string& peer) const {
  std::vector<wire::ErrorCode> out;
  for (const wire::Envelope* e : received(peer))
    if (e->body_type() == wire::Body::Error) out.push_back(e->body_as_Error()->code());
  return out;
}

}  // namespace signfed::test
