// Reading a federation's SQLite log in tests: one value of the first row of
// a query, read-only, waiting up to 5 s for a writer's lock.
#pragma once

#include <string>

namespace signfed::test {

// The first column of the first row as a number; -1 when there is no row or it is NULL.
double query_number(const std::string& db, const std::string& sql);
// The first column of the first row as text; empty when there is no row or it is NULL.
std::string query_text(const std::string& db, const std::string& sql);

}  // namespace signfed::test
