"""The warehouse with its catalog on a real PostgreSQL (``--catalog`` / TRACKIT_CATALOG):
the same marts as with the SQLite file, read from another folder by ``trackit sql``,
one writer at a time across processes, and errors that never show the password."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_servers import REPO, PostgresServer
from shared_warehouse import (
    CATALOG_PASSWORD,
    catalog_url,
    copy_raw,
    mart_rows,
    password_postgres,
    trackit,
    write_raw_lake,
)

from lake.catalog import CATALOG_ENV
from lake.ducklake import open_warehouse
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("raw-lake")
    write_raw_lake(data)
    return data


@pytest.fixture(scope="module")
def sqlite_marts(raw_lake: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, list[tuple]]:
    data = copy_raw(raw_lake, tmp_path_factory.mktemp("sqlite") / "data")
    transform_lake(data)
    build_warehouse(data)
    with open_warehouse(data, read_only=True) as con:
        return mart_rows(con)


@pytest.fixture(scope="module")
def catalog() -> Iterator[tuple[PostgresServer, str]]:
    with password_postgres() as server_and_url:
        yield server_and_url


@pytest.fixture(scope="module")
def shared(raw_lake: Path, catalog: tuple[PostgresServer, str],
           tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw lake transformed and built into the PostgreSQL catalog (data files local)."""
    data = copy_raw(raw_lake, tmp_path_factory.mktemp("pg") / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CATALOG_ENV, catalog[1])
        transform_lake(data)
        build_warehouse(data)
    return data


def test_marts_on_a_postgres_catalog_equal_those_on_sqlite(
        shared: Path, catalog: tuple[PostgresServer, str],
        sqlite_marts: dict[str, list[tuple]], monkeypatch: pytest.MonkeyPatch) -> None:
    assert not (shared / "warehouse" / "catalog.sqlite").exists()
    assert list((shared / "warehouse" / "data").rglob("*.parquet"))
    server, url = catalog
    assert server.psql("select count(*) from ducklake_snapshot", database=server.database) \
        not in ("", "0")
    monkeypatch.setenv(CATALOG_ENV, url)
    with open_warehouse(shared, read_only=True) as con:
        marts = mart_rows(con)
    assert marts.keys() == sqlite_marts.keys()
    assert sum(len(rows) for rows in marts.values()) > 0
    for name, rows in sqlite_marts.items():
        assert marts[name] == rows, name


def test_trackit_build_and_sql_take_the_catalog_option(
        shared: Path, catalog: tuple[PostgresServer, str], tmp_path: Path) -> None:
    _, url = catalog
    built = trackit("build", "--data", str(shared), "--catalog", url, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert CATALOG_PASSWORD not in built.stdout + built.stderr


def test_sql_reads_the_shared_warehouse_from_an_empty_folder_read_only(
        shared: Path, catalog: tuple[PostgresServer, str],
        sqlite_marts: dict[str, list[tuple]], tmp_path: Path) -> None:
    _, url = catalog
    empty = tmp_path / "analyst"
    empty.mkdir()
    done = trackit("sql", "--catalog", url, "--format", "csv",
                   "select count(*) as n from marts.trips", cwd=empty)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n", str(len(sqlite_marts["trips"]))]
    assert list(empty.iterdir()) == []  # no data dir made for the analyst
    # the same through TRACKIT_CATALOG
    done = trackit("sql", "--format", "csv", "select count(*) as n from core.records",
                   cwd=empty, env={CATALOG_ENV: url})
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.splitlines()[1]) > 0
    refused = trackit("sql", "--catalog", url, "create table marts.x as select 1 as a",
                      cwd=empty)
    assert refused.returncode != 0
    assert "read-only" in refused.stderr
    assert CATALOG_PASSWORD not in refused.stdout + refused.stderr


def test_a_wrong_password_is_one_line_naming_the_host_not_the_password(
        catalog: tuple[PostgresServer, str], shared: Path, tmp_path: Path) -> None:
    server, _ = catalog
    wrong = "Zk4-Wp8n-3Hs6"
    for args in (("sql", "select 1"), ("build", "--data", str(shared))):
        done = trackit(*args, "--catalog", catalog_url(server, wrong), cwd=tmp_path)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("trackit: error: cannot reach the warehouse catalog "
                                   f"postgresql://fleetops@127.0.0.1:{server.port}/"), lines
        assert "password authentication failed" in lines[0]
        assert wrong not in done.stderr + done.stdout


def test_an_unreachable_catalog_is_one_line_naming_the_host(tmp_path: Path) -> None:
    from real_servers import free_port

    port = free_port()
    done = trackit("sql", "--catalog",
                   f"postgresql://fleetops:{CATALOG_PASSWORD}@127.0.0.1:{port}/x",
                   "select 1", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"trackit: error: cannot reach the warehouse catalog postgresql://fleetops@"
        f"127.0.0.1:{port}/x"), done.stderr
    assert CATALOG_PASSWORD not in done.stderr


HOLD_WRITER = """
import sys, time
from pathlib import Path
from lake.ducklake import writing_warehouse
data, hold_s, wait_s = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
asked = time.time()
try:
    with writing_warehouse(data, wait_s=wait_s) as con:
        got = time.time()
        print(f"got {asked:.3f} {got:.3f}", flush=True)
        time.sleep(hold_s)
        con.execute("select count(*) from meta.loads").fetchall()
    print(f"released {time.time():.3f}", flush=True)
except Exception as exc:
    print(f"refused {exc}", flush=True)
"""


def hold_writer(data: Path, url: str, hold_s: float, wait_s: float
                ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(data), str(hold_s), str(wait_s)],
        cwd=REPO, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), CATALOG_ENV: url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_writers_in_two_data_dirs_take_turns_through_the_catalogs_advisory_lock(
        catalog: tuple[PostgresServer, str], shared: Path, tmp_path: Path) -> None:
    """Two data dirs (two machines: their lock files are not shared) on one catalog."""
    _, url = catalog
    first_dir, second_dir, third_dir = (tmp_path / name for name in ("a", "b", "c"))
    for folder in (first_dir, second_dir, third_dir):
        folder.mkdir()
    first = hold_writer(first_dir, url, hold_s=6, wait_s=60)
    line = first.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("got "), line + first.stderr.read()  # type: ignore[union-attr]
    second = hold_writer(second_dir, url, hold_s=0, wait_s=120)
    impatient = hold_writer(third_dir, url, hold_s=0, wait_s=1)
    impatient_out, _ = impatient.communicate(timeout=120)
    first_out, _ = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)
    released = float(first_out.split()[-1])
    got = float(second_out.split()[2])
    assert got >= released, (first_out, second_out, second_err)
    assert got - float(second_out.split()[1]) > 2  # it waited for the first
    assert impatient_out.startswith("refused another transform or build has been writing "
                                    "the warehouse of catalog postgresql://fleetops@"), \
        impatient_out
    assert CATALOG_PASSWORD not in impatient_out
