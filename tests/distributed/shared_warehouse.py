"""Helpers of the tests of a shared warehouse: a small simulated raw lake, its marts, a
PostgreSQL catalog that asks for a password, and ``trackit`` run as another process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from real_servers import REPO, PostgresServer, postgres_server

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.build import simulated_frames, write_raw

CATALOG_USER = "fleetops"
CATALOG_PASSWORD = "Xq7-Lm2v-9Rt4"
START = datetime(2026, 3, 2, tzinfo=UTC)


def write_raw_lake(data: Path, *, vehicles: int = 3, hours: int = 4) -> list[Path]:
    """Raw Parquet files of a simulated fleet under ``data/raw`` (the same every call)."""
    rows = simulated_frames(vehicles, 7, START, START + timedelta(hours=hours))
    return write_raw(data / "raw", rows)


def mart_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, as the attached warehouse holds them."""
    tables = [name for (name,) in con.execute(
        "select table_name from duckdb_tables() where database_name = 'warehouse' "
        "and schema_name = 'marts' order by 1").fetchall()]
    return {name: sorted(con.execute(f"select * from marts.{name}").fetchall(), key=repr)
            for name in tables}


@contextmanager
def password_postgres() -> Iterator[tuple[PostgresServer, str]]:
    """PostgreSQL whose catalog database belongs to a role that logs in with a password
    (scram-sha-256 over TCP); yields the server and the catalog URL with the password."""
    with postgres_server(database="fleet_catalog") as server:
        server.psql(f"create role {CATALOG_USER} login password '{CATALOG_PASSWORD}'")
        server.psql(f"alter database fleet_catalog owner to {CATALOG_USER}")
        server.psql(f"alter schema public owner to {CATALOG_USER}", database="fleet_catalog")
        hba = server.cluster_dir / "pg_hba.conf"
        hba.write_text(f"host all {CATALOG_USER} 127.0.0.1/32 scram-sha-256\n"
                       + hba.read_text())
        server.psql("select pg_reload_conf()")
        time.sleep(0.5)
        yield server, catalog_url(server)


def catalog_url(server: PostgresServer, password: str = CATALOG_PASSWORD) -> str:
    return (f"postgresql://{CATALOG_USER}:{password}@{server.host}:{server.port}/"
            f"{server.database}")


def trackit(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m trackit ARGS`` in ``cwd``, without TRACKIT_DATA / TRACKIT_CATALOG
    unless ``env`` gives them."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("TRACKIT_DATA", "TRACKIT_CATALOG")}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "trackit", *args], cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def copy_raw(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "raw", target / "raw")
    return target
