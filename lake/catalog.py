"""A warehouse catalog on PostgreSQL, shared by the machines that write and read it.

``--catalog postgresql://user@host:port/db`` (or ``TRACKIT_CATALOG``) puts the DuckLake
catalog in that database instead of the SQLite file under the data dir. The password
comes from the URL (``postgresql://user:password@host/db``), else libpq finds it the
usual way (``PGPASSWORD``, ``~/.pgpass``). It is handed to DuckDB in a temporary secret
and to psycopg2 as a separate argument, never in a connection string that an error could
quote, and is registered with ``lake.redaction`` so no log line or error shows it.

Writers on several machines take turns through a PostgreSQL advisory lock
(``hold_writer_lock``): a session lock on a connection of its own, released when the
holder closes it or its process dies.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lake.errors import TrackitError
from lake.redaction import redact, register_secret

CATALOG_ENV = "TRACKIT_CATALOG"
SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
WRITER_LOCK_KEY = zlib.crc32(b"trackit warehouse writer")
"""The advisory lock key of the warehouse's writer lock (one warehouse per database)."""
CONNECT_TIMEOUT_S = 10
_RETRY_EVERY_S = 0.2


class CatalogError(TrackitError):
    """The catalog URL is malformed, or its database cannot be reached or logged into."""


@dataclass(frozen=True)
class PostgresCatalog:
    """Where a PostgreSQL catalog is: ``postgresql://user:password@host:port/dbname``."""

    host: str
    dbname: str
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    options: tuple[tuple[str, str], ...] = ()
    """Further libpq parameters of the URL's query (``sslmode=require``)."""

    @classmethod
    def parse(cls, url: str) -> PostgresCatalog:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise CatalogError(f"not a PostgreSQL catalog: {redact_url(url)!r} "
                               "(expected postgresql://user@host:port/database)")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise CatalogError(f"the catalog URL {redact_url(url)} has an invalid port"
                               ) from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname:
            raise CatalogError(f"the catalog URL {redact_url(url)} needs a host and a "
                               "database: postgresql://user@host:port/database")
        password = unquote(parts.password) if parts.password is not None else None
        if password:
            register_secret(password)
        return cls(host=parts.hostname, port=port, dbname=dbname,
                   user=unquote(parts.username) if parts.username else None,
                   password=password,
                   options=tuple(parse_qsl(parts.query, keep_blank_values=True)))

    def conninfo(self) -> str:
        """The libpq connection string, without the password."""
        pairs = [("host", self.host), ("port", str(self.port)), ("dbname", self.dbname)]
        if self.user:
            pairs.append(("user", self.user))
        pairs += [pair for pair in self.options if pair[0] != "password"]
        return " ".join(f"{key}={_conninfo_value(value)}" for key, value in pairs)

    def __str__(self) -> str:
        """``postgresql://user@host:port/dbname``: what errors and logs name."""
        user = f"{self.user}@" if self.user else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.dbname}"

    def duckdb_secret(self, name: str = "trackit_catalog") -> str | None:
        """``create temporary secret`` holding the password for DuckDB's postgres
        extension, or ``None`` without a password in the URL. Run it, never log it."""
        if not self.password:
            return None
        return (f"create or replace temporary secret {name} "
                f"(type postgres, password {_literal(self.password)})")

    def connect(self) -> Any:
        """A psycopg2 connection (autocommit, TCP keepalives), or ``CatalogError``."""
        import psycopg2

        try:
            con = psycopg2.connect(self.conninfo(), password=self.password,
                                   connect_timeout=CONNECT_TIMEOUT_S, keepalives=1,
                                   keepalives_idle=30, keepalives_interval=10,
                                   keepalives_count=3,
                                   application_name="trackit")
        except psycopg2.Error as exc:
            raise unreachable(self, exc) from None
        con.autocommit = True
        return con

    def scrub(self, text: str) -> str:
        """``text`` without this catalog's password (also redacts registered secrets)."""
        if self.password:
            text = text.replace(self.password, "***")
        return redact(text)


def unreachable(catalog: PostgresCatalog, exc: BaseException | str) -> CatalogError:
    """One line naming the catalog (never its password) and what to check."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = catalog.scrub(" ".join(lines[:2]) or type(exc).__name__)
    return CatalogError(
        f"cannot reach the warehouse catalog {catalog}: {reason} (check --catalog / "
        f"{CATALOG_ENV}: the host, port, database, user, and the password in the URL, "
        "PGPASSWORD or ~/.pgpass)")


def redact_url(url: str) -> str:
    """A catalog URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{netloc[2]}").geturl()


def catalog_from_environment() -> PostgresCatalog | None:
    """The catalog ``TRACKIT_CATALOG`` names, or ``None`` (the SQLite file)."""
    url = os.environ.get(CATALOG_ENV, "").strip()
    if not url:
        return None
    try:
        return PostgresCatalog.parse(url)
    except CatalogError as exc:
        raise CatalogError(f"{CATALOG_ENV}: {exc}") from None


@contextmanager
def hold_writer_lock(catalog: PostgresCatalog, *, wait_s: float, busy_message: str
                     ) -> Iterator[None]:
    """Hold the warehouse's writer lock on ``catalog`` (an advisory lock) for the block.

    Waits up to ``wait_s`` for another holder, on any machine, then raises
    ``TrackitError(busy_message)``.
    """
    con = catalog.connect()
    try:
        deadline = time.monotonic() + wait_s
        with con.cursor() as cursor:
            while True:
                cursor.execute("select pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,))
                if cursor.fetchone()[0]:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TrackitError(busy_message)
                time.sleep(min(_RETRY_EVERY_S, left))
        yield
    finally:
        con.close()  # ends the session, which releases its advisory locks


def _conninfo_value(value: str) -> str:
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
