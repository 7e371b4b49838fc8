"""The SQL of every route, pinned: ``tests/transforms/golden/<route>.sql``.

Each file is what ``trackit transform --show-sql ROUTE`` prints. A change to a route or
to the compiler shows up here as a readable diff of the SQL it generates. After a change
you mean, write the files again and review the diff:

    UPDATE_GOLDEN=1 ./run test tests/transforms/test_transforms_golden_sql.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from transforms.route_sql import golden_name, route_queries
from transforms.routes import ROUTES

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", list(ROUTES))
def test_route_sql_matches_its_golden_file(name: str) -> None:
    path = GOLDEN / f"{golden_name(name)}.sql"
    sql = route_queries(name).text()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(sql)
    assert path.exists(), f"no golden file {path}: run UPDATE_GOLDEN=1 ./run test {__file__}"
    assert sql == path.read_text(), (
        f"the SQL of route {name} changed: review it, then run "
        f"UPDATE_GOLDEN=1 ./run test {Path(__file__).name}")


def test_every_golden_file_is_a_route() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.sql")) == sorted(
        golden_name(n) for n in ROUTES)


def test_show_sql_prints_the_golden_file() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "trackit", "transform", "--show-sql", "event:io"],
        capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == (GOLDEN / "event_io.sql").read_text()


def test_show_sql_of_an_unknown_route_lists_the_routes() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "trackit", "transform", "--show-sql", "teleport"],
        capture_output=True, text=True, check=False)
    assert shown.returncode != 0
    assert shown.stderr.startswith("trackit: error: no route 'teleport'")
    assert "records" in shown.stderr and "Traceback" not in shown.stderr


def test_no_sql_is_compiled_at_import() -> None:
    code = ("import transforms.pipeline, transforms.route_sql as r; "
            "print(r.route_queries.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "0"
