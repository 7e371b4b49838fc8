"""Analysts' read-only sessions neither block a build nor see a half-built state."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
from warehouse_handmade import drive, parked, write

from lake.layout import DataLayout
from warehouse.build import build_warehouse

READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    def state():
        trips = con.execute("select count(*) from marts.trips").fetchone()[0]
        records = con.execute("select count(*) from core.records").fetchone()[0]
        load = con.execute("select load_id from meta.publication").fetchone()[0]
        return f"{trips} {records} {load}"
    print(state(), flush=True)
    sys.stdin.readline()          # the test runs a build meanwhile
    print(state(), flush=True)
""")


def test_a_reader_keeps_its_state_while_a_build_publishes_a_new_one(tmp_path: Path) -> None:
    write(tmp_path, records=drive(1, 0, 600, odometer0=0)
          + parked(1, 630, 900, at_m=6000, odometer=6000))
    build_warehouse(tmp_path)
    published = DataLayout(tmp_path).warehouse

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdin is not None
        before = reader.stdout.readline().split()
        assert before == ["1", str(21 + 16), "1"]

        write(tmp_path, records=drive(2, 0, 600, odometer0=0)
              + parked(2, 630, 900, at_m=6000, odometer=6000))
        summary = build_warehouse(tmp_path)  # must not fail on the reader's lock
        assert summary.publish.published and summary.publish.load_id == 2

        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == before  # the old, consistent state
    finally:
        reader.communicate(timeout=30)
    assert reader.returncode == 0

    fresh = duckdb.connect(str(published), read_only=True)
    try:
        assert fresh.execute("select count(*) from marts.trips").fetchone()[0] == 2
        assert fresh.execute("select load_id from meta.publication").fetchone()[0] == 2
    finally:
        fresh.close()
    assert not list(published.parent.glob(".tmp-*"))
