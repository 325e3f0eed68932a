// The round log's tables, described once for both backends (SQLite and
// PostgreSQL): the same tables, columns, keys and checks; only the type names
// differ (INTEGER -> BIGINT, REAL -> DOUBLE PRECISION, BLOB -> BYTEA, and the
// runs.run_id key: SQLite's rowid alias, PostgreSQL's BIGSERIAL).
// Every statement is idempotent (CREATE ... IF NOT EXISTS).
#pragma once

#include <string>
#include <vector>

namespace signfed::coord {

enum class SqlDialect { sqlite, postgresql };

// The DDL of every table and index, as one multi-statement script.
std::string log_schema_sql(SqlDialect dialect);

struct SchemaColumn {
  std::string table, column;
};
// Every (table, column) the DDL declares, in order: what an existing
// database must have to be a round log of this version.
std::vector<SchemaColumn> log_schema_columns();

}  // namespace signfed::coord
