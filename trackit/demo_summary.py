"""The summary ``trackit demo`` prints: what the pipeline made of the stream, and how it
compares with what the simulator says really happened (its ground-truth files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from lake.layout import DataLayout
from schemas.core_tables import CORE_TABLES


@dataclass(frozen=True)
class TripComparison:
    """Closed trips of the ground truth against the trips of ``marts.trips``."""

    truth: int
    found_closed: int
    found_open: int
    matched: int
    matched_truth_km: float
    matched_found_km: float


def load_truth(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """The trips, I/O changes and messages of every ground-truth file that exists.

    I/O changes are kept only when the simulator had sent them when it stopped: a silent
    device's changes wait for its next upload, which may come after the run ended.
    """
    merged: dict[str, list[dict[str, Any]]] = {"trips": [], "io_changes": [], "messages": []}
    for path in files:
        if not path.exists():
            continue
        truth = json.loads(path.read_text(encoding="utf-8"))
        stopped = datetime.fromtimestamp(float(truth["now"]), UTC)
        merged["trips"].extend(truth.get("trips") or [])
        merged["messages"].extend(truth.get("messages") or [])
        merged["io_changes"].extend(
            change for change in truth.get("io_changes") or []
            if datetime.fromisoformat(change["emitted"]) <= stopped
        )
    return merged


def compare_trips(
    con: duckdb.DuckDBPyConnection, truth_trips: list[dict[str, Any]]
) -> TripComparison:
    """Match each closed true trip to a mart trip of the same vehicle that overlaps it.

    A true trip that ended in the last minutes of the stream can still be open in the mart
    (its stop is not confirmed yet); it is completed by the next build.
    """
    found = con.execute(
        "select vid, start_time, end_time, distance_km, is_open from marts.trips"
    ).fetchall()
    by_vid: dict[int, list[tuple[datetime, datetime, float]]] = {}
    for vid, start, end, km, _ in found:
        by_vid.setdefault(int(vid), []).append((start, end, float(km or 0)))
    closed = [t for t in truth_trips if not t.get("open")]
    matched = 0
    truth_km = found_km = 0.0
    for trip in closed:
        start = datetime.fromisoformat(trip["start"])
        end = datetime.fromisoformat(trip["end"])
        overlapping = [
            km for s, e, km in by_vid.get(int(trip["vid"]), []) if s <= end and start <= e
        ]
        if overlapping:
            matched += 1
            truth_km += float(trip.get("distance_m") or 0) / 1000
            found_km += overlapping[0]
    open_trips = sum(1 for row in found if row[4])
    return TripComparison(
        truth=len(closed),
        found_closed=len(found) - open_trips,
        found_open=open_trips,
        matched=matched,
        matched_truth_km=truth_km,
        matched_found_km=found_km,
    )


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0])  # type: ignore[index]


def print_summary(layout: DataLayout, truth_files: list[Path], out: IO[str]) -> None:
    """Print the demo's summary from the raw lake and the published warehouse."""
    def say(text: str = "") -> None:
        print(text, file=out)

    raw_glob = str(layout.raw / "**" / "*.parquet")
    frames = duckdb.sql(
        f"select direction, count(*) from read_parquet('{raw_glob}', hive_partitioning=false) "
        "group by all order by 1"
    ).fetchall()
    say()
    say("== trackit demo summary ==")
    say("raw lake:     " + ", ".join(f"{n:,} frames {d}" for d, n in frames))
    if not layout.warehouse.exists():
        say(f"no warehouse at {layout.warehouse} (Airflow was skipped)")
        return
    truth = load_truth(truth_files)
    con = duckdb.connect(str(layout.warehouse), read_only=True)
    try:
        counts = [
            (name, con.execute(f"select count(*) from core.{name}").fetchone()[0])  # type: ignore[index]
            for name in CORE_TABLES
            if _table_exists(con, "core", name)
        ]
        say("core tables:  " + ", ".join(f"{name} {n:,}" for name, n in counts))
        total_q = con.execute("select count(*) from core.quarantine").fetchone()[0]  # type: ignore[index]
        reasons = con.execute(
            "select stage, left(reason, 70), count(*) from core.quarantine "
            "group by all order by 3 desc, 2 limit 6"
        ).fetchall()
        say(f"quarantine:   {total_q:,} rows" + (" — top reasons:" if reasons else ""))
        for stage, reason, n in reasons:
            say(f"  {n:6,}  [{stage}] {reason}")
        trips = compare_trips(con, truth["trips"])
        say(
            f"trips:        marts.trips has {trips.found_closed} closed + {trips.found_open} "
            f"open trips; of the simulator's {trips.truth} finished trips {trips.matched} "
            f"were found ({trips.matched_found_km:,.1f} km measured vs "
            f"{trips.matched_truth_km:,.1f} km driven)"
        )
        stops = con.execute("select count(*) from marts.stops").fetchone()[0]  # type: ignore[index]
        say(f"stops:        {stops:,}")
        io = con.execute(
            "select io, count(*) from marts.io_changes where from_value is not null "
            "group by io order by 2 desc limit 5"
        ).fetchall()
        say(
            f"I/O changes:  {sum(n for _, n in io):,} in marts.io_changes ("
            + ", ".join(f"io {i}: {n}" for i, n in io)
            + f"; first observations not counted); ground truth {len(truth['io_changes']):,} sent"
        )
        messages = con.execute(
            "select uid, sent_at, final_status, seconds_to_delivered, seconds_to_read "
            "from marts.message_latency where guid is not null order by sent_at"
        ).fetchall()
        say(f"messages:     {len(messages)} sent to drivers")
        for uid, sent_at, final, to_delivered, to_read in messages:
            say(
                f"  uid {uid} at {sent_at:%H:%M:%S}: {final}; delivered after "
                f"{_seconds(to_delivered)}, read after {_seconds(to_read)}"
            )
        daily = con.execute(
            "select count(distinct vid), sum(trips), sum(distance_km), sum(driving_s) / 3600 "
            "from marts.vehicle_daily"
        ).fetchone()
        if daily and daily[0]:
            say(f"fleet:        {daily[0]} vehicles, {daily[1]} trips, {daily[2]:,.1f} km, "
                f"{daily[3]:,.1f} h driving (marts.vehicle_daily)")
    finally:
        con.close()
    say()
    say(f"query it:     duckdb -readonly {layout.warehouse}")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} s"
