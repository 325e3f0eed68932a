"""Opens a signfed round log for reading: a SQLite file, or a PostgreSQL
database named by a postgresql:// (or postgres://) URL (the coordinator's
--db; docs/postgresql.md). Both hold the same tables and columns
(coordinator/log_schema.cc), so the readers' SQL runs on either: write it
with ? placeholders and the functions both databases have (length, COUNT...).

PostgreSQL needs psycopg2 (Debian: python3-psycopg2; run with /usr/bin/python3).
"""
import sqlite3


def is_postgres_url(target):
    return target.startswith(("postgresql://", "postgres://"))


def shown(target):
    """target for messages: a URL's password replaced by ***."""
    if not is_postgres_url(target):
        return target
    scheme, rest = target.split("://", 1)
    auth, at, host = rest.partition("@")
    if at and ":" in auth and "/" not in auth:
        return f"{scheme}://{auth.split(':', 1)[0]}:***@{host}"
    return target


class LogDb:
    """Read-only access; execute() returns a cursor (fetchone, fetchall, iteration)."""

    def __init__(self, target):
        self.target = target
        self.postgres = is_postgres_url(target)
        if self.postgres:
            try:
                import psycopg2
            except ImportError:
                raise LogDbError(f"reading the PostgreSQL log {shown(target)} needs psycopg2 "
                                 "(Debian: apt-get install python3-psycopg2; run with /usr/bin/python3)")
            try:
                self.conn = psycopg2.connect(target)
                self.conn.set_session(readonly=True, autocommit=True)
            except psycopg2.Error as e:
                raise LogDbError(f"cannot connect to {shown(target)}: {str(e).strip()} (is the server running "
                                 "and the URL right? docs/postgresql.md)")
        else:
            try:
                self.conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
            except sqlite3.Error as e:
                raise LogDbError(f"cannot read {target}: {e}")

    def execute(self, sql, params=()):
        if self.postgres:
            cur = self.conn.cursor()
            cur.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))
            return cur
        return self.conn.execute(sql, params)

    def table_exists(self, name):
        if self.postgres:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        else:
            sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        return self.execute(sql, (name,)).fetchone() is not None

    def column_exists(self, table, column):
        if self.postgres:
            return self.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                                "AND table_name = ? AND column_name = ?", (table, column)).fetchone() is not None
        return any(r[1] == column for r in self.execute(f"PRAGMA table_info({table})"))


class LogDbError(Exception):
    pass


def errors():
    """The exception types a query on either database may raise."""
    kinds = [sqlite3.Error, LogDbError]
    try:
        import psycopg2
        kinds.append(psycopg2.Error)
    except ImportError:
        pass
    return tuple(kinds)
