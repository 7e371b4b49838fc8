"""Analysts' read-only sessions neither block a build nor see a half-built state.

A build is one DuckLake transaction: a reader sees the snapshot before it or after it.
The build runs in a real process, held between writing its marts and committing them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_readers_see_the_snapshot_before_a_build_or_after_it(tmp_path: Path) -> None:
    write(tmp_path, records=a_trip(1))
    build_warehouse(tmp_path)
    before = (1, 37, 1)

    # a session that keeps one transaction open: its snapshot throughout
    session = open_warehouse(tmp_path, read_only=True)
    session.execute("begin transaction")
    assert session.execute(STATE_SQL).fetchone() == before

    write(tmp_path, records=a_trip(2))  # the transform commits load 2
    builder = subprocess.Popen([sys.executable, "-c", HELD_BUILD, str(tmp_path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout is not None and builder.stdin is not None
        assert builder.stdout.readline().strip() == "MARTS WRITTEN"
        # mid-build, a new reader sees the transform's rows but the marts of the last build
        mid = open_warehouse(tmp_path, read_only=True)
        try:
            assert mid.execute(STATE_SQL).fetchone() == (1, 74, 1)
        finally:
            mid.close()
        builder.stdin.write("\n")
        builder.stdin.flush()
        out, _ = builder.communicate(timeout=120)
    finally:
        if builder.poll() is None:
            builder.kill()
            builder.wait()
    assert builder.returncode == 0 and out.startswith("COMMITTED"), out

    # the open session was not in the build's way, and still sees its snapshot
    assert session.execute(STATE_SQL).fetchone() == before
    session.execute("commit")
    assert session.execute(STATE_SQL).fetchone() == (2, 74, 2)
    session.close()
