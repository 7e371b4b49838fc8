"""Analysts' read-only sessions neither block a build nor see a half-built state.

A build is one DuckLake transaction: a reader sees the snapshot before it or after it.
The build runs in a real process, held between writing its marts and committing them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from warehouse_handmade import drive, parked, write

from lake.ducklake import open_warehouse
from warehouse.build import build_warehouse

STATE_SQL = """
select (select count(*) from marts.trips), (select count(*) from core.records),
       (select value from meta.state where name = 'marts_load_id')
"""

# a build that stops after its marts are written, before its checks and commit, until told
HELD_BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import warehouse.build as build

    checks = build.check_warehouse_into
    def held(*args, **kwargs):
        print("MARTS WRITTEN", flush=True)
        sys.stdin.readline()
        return checks(*args, **kwargs)
    build.check_warehouse_into = held
    summary = build.build_warehouse(Path(sys.argv[1]))
    print("COMMITTED", summary.snapshot, flush=True)
""")


def a_trip(vid: int) -> list[dict]:
    return drive(vid, 0, 600, odometer0=0) + parked(vid, 630, 900, at_m=6000, odometer=6000)


def test_a_reader_sees_the_last_build_while_a_build_runs_and_the_new_one_after(
        tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    build_warehouse(tmp_path)
    # an analyst's session, open throughout (idle between its queries)
    session = open_warehouse(tmp_path, read_only=True)
    try:
        assert session.execute(STATE_SQL).fetchall() == [(1, 37, 1)]

        write(tmp_path, records=a_trip(2))  # the transform commits load 2
        builder = subprocess.Popen([sys.executable, "-c", HELD_BUILD, str(tmp_path)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert builder.stdout is not None and builder.stdin is not None
            assert builder.stdout.readline().strip() == "MARTS WRITTEN"
            # mid-build: the transform's rows, but the marts of the last build, in the open
            # session as in a new one
            assert session.execute(STATE_SQL).fetchall() == [(1, 74, 1)]
            fresh = open_warehouse(tmp_path, read_only=True)
            try:
                assert fresh.execute(STATE_SQL).fetchall() == [(1, 74, 1)]
            finally:
                fresh.close()
            builder.stdin.write("\n")
            builder.stdin.flush()
            out, _ = builder.communicate(timeout=600)
        finally:
            if builder.poll() is None:
                builder.kill()
                builder.wait()
        assert builder.returncode == 0 and out.startswith("COMMITTED"), out
        # the session was not in the build's way, and its next query sees the build
        assert session.execute(STATE_SQL).fetchall() == [(2, 74, 2)]
    finally:
        session.close()


@pytest.mark.parametrize("reader", ["open transaction", "unfinished result"])
def test_a_reader_in_the_middle_of_reading_does_not_fail_a_writer(
        tmp_path: Path, reader: str) -> None:
    write(tmp_path, records=a_trip(1))
    build_warehouse(tmp_path)
    session = open_warehouse(tmp_path, read_only=True)
    try:
        if reader == "open transaction":
            session.execute("begin transaction")
            assert session.execute(STATE_SQL).fetchall() == [(1, 37, 1)]
        else:
            session.execute("select * from core.records").fetchone()
        write(tmp_path, records=a_trip(2))
        build_warehouse(tmp_path)
        if reader == "open transaction":  # its snapshot, until it ends the transaction
            assert session.execute(STATE_SQL).fetchall() == [(1, 37, 1)]
            session.execute("commit")
        assert session.execute(STATE_SQL).fetchall() == [(2, 74, 2)]
    finally:
        session.close()
