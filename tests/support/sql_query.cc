#include "tests/support/sql_query.h"

#include <sqlite3.h>

namespace signfed::test {

namespace {
template <class F>
void query(const std::string& db, const std::string& sql, F&& on_row) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) on_row(s);
  sqlite3_finalize(s);
  sqlite3_close(h);
}
}  // namespace

double query_number(const std::string& db, const std::string& sql) {
  double v = -1;
  query(db, sql, [&](sqlite3_stmt* s) {
    if (sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_double(s, 0);
  });
  return v;
}

std::string query_text(const std::string& db, const std::string& sql) {
  std::string v;
  query(db, sql, [&](sqlite3_stmt* s) {
    if (const auto* t = sqlite3_column_text(s, 0)) v = reinterpret_cast<const char*>(t);
  });
  return v;
}

}  // namespace signfed::test
