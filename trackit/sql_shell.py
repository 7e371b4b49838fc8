"""SQL on the read-only warehouse: statements run one by one, and the interactive shell.

``WarehouseSql`` parses a text into statements with DuckDB's own parser, refuses those
that would reach past the warehouse (ATTACH, DETACH, INSTALL/LOAD) before running any,
runs them, and turns DuckDB's errors into one-line ``TrackitError`` messages (a write to
the read-only warehouse says so). ``SqlShell`` reads lines until a ``;`` ends a
statement (outside quotes and comments), prints each statement's rows, and knows
``.tables``, ``.help`` and ``.quit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TextIO

import duckdb

from lake.ducklake import DATABASE
from lake.errors import TrackitError
from lake.redaction import redact
from trackit.sql_output import Row, write_rows

FETCH_ROWS = 10_000
"""Rows fetched from DuckDB at a time while printing."""

_ROWS = {"SELECT", "EXPLAIN", "CALL", "PRAGMA", "EXECUTE", "ANALYZE", "RELATION"}
_REFUSED = {
    "ATTACH": "attaches no other database",
    "DETACH": "detaches no database",
    "LOAD": "installs and loads no extension (the warehouse's are loaded)",
}
_READ_ONLY_KIND = re.compile(r'statement of type "(\w+)"')
_DOLLAR_QUOTE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_BLANK = re.compile(r"\s*(?:--[^\n]*(?:\n|$)\s*|/\*.*?\*/\s*)*", re.DOTALL)

SCHEMAS = ("core", "marts", "meta")
"""The warehouse's schemas, in the order ``.tables`` lists them."""

TABLES_SQL = f"""
select table_schema as schema, table_name as "table",
       case table_type when 'VIEW' then 'view' else 'table' end as kind
from information_schema.tables
where table_catalog = '{DATABASE}' and table_schema in {SCHEMAS}
order by list_position({list(SCHEMAS)}, table_schema), table_name
"""

HELP = """\
End a statement with ; (it may span lines). The warehouse is read-only here.
  .tables    the tables of core, marts and meta
  .help      this text
  .quit      leave (also .exit and Ctrl-D)
Time travel: select count(*) from core.records at (version => 3);
the snapshots: select snapshot_id, snapshot_time, changes from ducklake_snapshots('warehouse');
"""


def one_line(message: str) -> str:
    """DuckDB's message up to its ``LINE n:`` excerpt, on one line."""
    kept: list[str] = []
    for line in message.splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept)


def sql_error(exc: duckdb.Error) -> TrackitError:
    """The one-line error of a failed statement."""
    message = str(exc)
    if isinstance(exc, duckdb.InterruptException):
        return TrackitError("the statement was interrupted")
    if "read-only mode" in message:
        kind = _READ_ONLY_KIND.search(message)
        what = f"{kind.group(1)} refused" if kind else "a write refused"
        return TrackitError(f"the warehouse is read-only here ({what}): trackit sql only "
                            "reads; trackit transform and trackit build write it")
    return TrackitError(one_line(message))


def statement_end(text: str) -> int:
    """The index just past the last ``;`` of ``text`` that ends a statement (outside
    quotes, comments and ``$$`` strings); 0 when no statement is complete."""
    end, at = 0, 0
    while at < len(text):
        char = text[at]
        closing: str | None = None
        if char in "'\"":
            closing = char
        elif text.startswith("--", at):
            closing = "\n"
        elif text.startswith("/*", at):
            closing = "*/"
        elif char == "$" and (dollar := _DOLLAR_QUOTE.match(text, at)):
            closing = dollar.group(0)
            at = dollar.end() - 1
        if closing is not None:
            found = text.find(closing, at + 1)
            if found < 0:
                return end
            at = found + len(closing)
            continue
        if char == ";":
            end = at + 1
        at += 1
    return end


class WarehouseSql:
    """Statements on a connection whose warehouse is attached read-only."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def parse(self, sql: str) -> list[duckdb.Statement]:
        """The statements of ``sql``; refuses them all if one is refused."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise sql_error(exc) from None
        for statement in statements:
            refusal = _REFUSED.get(statement.type.name)
            if refusal:
                kind = "INSTALL/LOAD" if statement.type.name == "LOAD" else statement.type.name
                raise TrackitError(f"the warehouse is read-only here: trackit sql {refusal} "
                                   f"({kind} refused)")
        return statements

    def execute(self, statement: duckdb.Statement | str) -> list[str] | None:
        """Run one statement; its column names when it returns rows (read them with
        ``rows()`` before the next statement)."""
        kind = statement.type.name if isinstance(statement, duckdb.Statement) else "SELECT"
        query = statement.query if isinstance(statement, duckdb.Statement) else statement
        try:
            self.con.execute(query)
        except duckdb.Error as exc:
            raise sql_error(exc) from None
        if kind not in _ROWS or self.con.description is None:
            return None
        return [column[0] for column in self.con.description]

    def rows(self) -> Iterator[Row]:
        """The rows of the statement just run, fetched a chunk at a time."""
        while True:
            try:
                chunk = self.con.fetchmany(FETCH_ROWS)
            except duckdb.Error as exc:
                raise sql_error(exc) from None
            if not chunk:
                return
            yield from chunk

    def run_last(self, sql: str, fmt: str, out: TextIO) -> None:
        """Run every statement of ``sql``; print the rows of the last one."""
        statements = self.parse(sql)
        if not statements:
            raise TrackitError("the query holds no SQL statement")
        columns = None
        for statement in statements:
            columns = self.execute(statement)
        if columns is not None:
            write_rows(fmt, columns, self.rows(), out)

    def run_each(self, sql: str, fmt: str, out: TextIO) -> None:
        """Run every statement of ``sql``, printing the rows of each as it ends."""
        for statement in self.parse(sql):
            columns = self.execute(statement)
            if columns is not None:
                write_rows(fmt, columns, self.rows(), out)


LineReader = Callable[[str], str]
"""Reads one line shown the prompt given; raises ``EOFError`` at the end."""


class SqlShell:
    """A read-eval-print loop over ``WarehouseSql``: errors print one line and it goes on."""

    def __init__(self, sql: WarehouseSql, *, fmt: str, out: TextIO, err: TextIO,
                 prompt: str = "warehouse") -> None:
        self.sql, self.fmt, self.out, self.err = sql, fmt, out, err
        self.prompt = f"{prompt}> "
        self.continuation = " " * (len(prompt) - 3) + "...> "
        self.failures = 0

    def run(self, read_line: LineReader) -> None:
        """Read and run statements until ``.quit`` or the end of the input."""
        buffer = ""
        while True:
            try:
                line = read_line(self.continuation if buffer else self.prompt)
            except EOFError:
                break
            except KeyboardInterrupt:
                self.err.write("\n")
                buffer = ""
                continue
            if not buffer and line.strip().startswith("."):
                if not self.dot_command(line.strip()):
                    return
                continue
            buffer += line + "\n"
            end = statement_end(buffer)
            if end:
                self.run_chunk(buffer[:end])
                buffer = "" if _BLANK.fullmatch(buffer[end:]) else buffer[end:]
        if buffer.strip():
            self.run_chunk(buffer)

    def run_chunk(self, sql: str) -> None:
        try:
            self.sql.run_each(sql, self.fmt, self.out)
        except TrackitError as exc:
            self.failure(str(exc))
        except KeyboardInterrupt:
            self.failure("the statement was interrupted")
        self.out.flush()

    def failure(self, message: str) -> None:
        self.failures += 1
        self.out.flush()
        self.err.write(redact(f"trackit: error: {message}") + "\n")
        self.err.flush()

    def dot_command(self, command: str) -> bool:
        """Run a ``.command``; false when it ends the shell."""
        name = command.split()[0]
        if name in (".quit", ".exit", ".q"):
            return False
        if name == ".tables":
            self.run_chunk(TABLES_SQL)
        elif name == ".help":
            self.out.write(HELP)
        else:
            self.failure(f"unknown command {name}: the commands are .tables, .help, .quit")
        return True
