// open_postgres_log for a build without PostgreSQL (SIGNFED_WITH_POSTGRESQL
// off, or libpq not found): a postgresql:// --db says what to do.
#include "coordinator/log_backend.h"

namespace signfed::coord {

std::unique_ptr<LogBackend> open_postgres_log(const std::string&, const std::string& shown) {
  throw LogError("round log " + shown +
                 ": this build has no PostgreSQL support (configured with SIGNFED_WITH_POSTGRESQL=OFF or without "
                 "libpq); install libpq-dev and rebuild, or pass a SQLite file to --db");
}

}  // namespace signfed::coord
