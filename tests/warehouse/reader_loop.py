"""A reader process of the concurrency test: one query, in a loop, until told to stop.

``python reader_loop.py DATA QUERY STOP_FILE [--reopen]`` runs the named query of
``QUERIES`` on the warehouse of DATA (read-only) until STOP_FILE exists and prints each
result as one JSON line; ``--reopen`` opens a new connection for every query. Any error
is printed as ``ERROR <type>: <message>`` and ends the process with status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

QUERIES = {
    "records": "select count(*) from core.records",
    "trips": "select count(*), max(end_time) from marts.trips",
    "join": """
        select count(*), count(distinct t.trip_id)
        from marts.trips t join core.records r
          on r.vid = t.vid and r.tmx between t.start_time and t.end_time
    """,
}


def observe(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    return [str(v) for v in con.execute(QUERIES[query]).fetchone()]


def main(argv: list[str]) -> int:
    data, query, stop = Path(argv[0]), argv[1], Path(argv[2])
    reopen = "--reopen" in argv[3:]
    from lake.ducklake import open_warehouse

    con = None
    try:
        while not stop.exists():
            if con is None or reopen:
                if con is not None:
                    con.close()
                con = open_warehouse(data, read_only=True)
            print(json.dumps(observe(con, query)), flush=True)
    except Exception as exc:  # the test reads what went wrong
        print(f"ERROR {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        return 1
    finally:
        if con is not None:
            con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
