"""A reader of the warehouse never stops a writer, whatever it leaves open."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from lake.ducklake import open_warehouse, writing_warehouse

READER = """
import sys, time
from pathlib import Path
from lake.ducklake import open_warehouse
con = open_warehouse(Path(sys.argv[1]), read_only=True)
con.execute("select * from core.t").fetchone()   # a result left half-read
print("reading", flush=True)
time.sleep(60)
"""


def test_a_half_read_result_does_not_block_a_commit(tmp_path: Path) -> None:
    with writing_warehouse(tmp_path) as con:
        con.execute("create schema core")
        con.execute("create table core.t as select range as a from range(10000)")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline() == "reading\n"
        started = time.monotonic()
        with writing_warehouse(tmp_path) as con:
            con.execute("insert into core.t select range from range(5)")
            con.execute("delete from core.t where a < 3")
        assert time.monotonic() - started < 30
    finally:
        reader.kill()
        reader.wait()
    with open_warehouse(tmp_path, read_only=True) as con:
        assert con.execute("select count(*) from core.t").fetchone() == (9999,)
