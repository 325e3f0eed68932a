#include "tests/support/sql_query.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

namespace signfed::test {

namespace {
// Runs on_row on the first row of sql; nothing when the file cannot be opened,
// the query fails or returns no row (the callers' -1 / "" mean "not there").
template <class F>
void query(const std::string& db, const std::string& sql, F&& on_row) {
  try {
    SQLite::Database h(db, SQLite::OPEN_READONLY, /*busy ms=*/5000);
    SQLite::Statement s(h, sql);
    if (s.executeStep()) on_row(s.getColumn(0));
  } catch (const SQLite::Exception&) {
  }
}
}  // namespace

double query_number(const std::string& db, const std::string& sql) {
  double v = -1;
  query(db, sql, [&](const SQLite::Column& c) {
    if (!c.isNull()) v = c.getDouble();
  });
  return v;
}

std::string query_text(const std::string& db, const std::string& sql) {
  std::string v;
  query(db, sql, [&](const SQLite::Column& c) { v = c.getText(); });  // NULL: ""
  return v;
}

}  // namespace signfed::test
