"""The summary ``trackit demo`` prints: what the pipeline made of the stream, and how it
compares with what the simulator says really happened (its ground-truth files).

It reads the raw lake and the warehouse's latest snapshot, opened read-only as
``trackit sql`` opens it (``lake.ducklake.open_warehouse``).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import duckdb

from lake.ducklake import open_warehouse
from lake.layout import DATA_ENV, DataLayout
from schemas.core_tables import CORE_TABLES
from warehouse.config import WarehouseConfig

REPO = Path(__file__).resolve().parents[1]
"""The clone ``./run`` runs in (it changes to this folder first)."""


@dataclass(frozen=True)
class TripComparison:
    """Closed trips of the ground truth against the trips of ``marts.trips``."""

    truth: int
    found_closed: int
    found_open: int
    matched: int
    matched_truth_km: float
    matched_found_km: float


@dataclass(frozen=True)
class IdleComparison:
    """Idle seconds of the simulator's finished trips against the marts' over the same span.

    Per vehicle with an ignition input, the span runs to the end (ignition off) of its last
    finished true trip: all idle happens with the ignition on, so inside trips, and the
    idle of a trip still running is not all in the warehouse yet.
    """

    vehicles: int
    """Vehicles with an ignition input and a finished trip the warehouse has seen."""
    no_ignition: int
    truth_s: float
    found_s: float
    within: int
    """Vehicles whose idle in the marts is within ``IDLE_TOLERANCE`` (or ``IDLE_SLACK_S``)."""
    coverage_lost_truth_s: float
    """True idle of the trips during which the device lost coverage (not in ``truth_s``)."""
    coverage_lost_found_s: float
    """The marts' idle of the trips and stops that overlap a loss of coverage."""


@dataclass(frozen=True)
class OverlapComparison:
    """Episodes or visits of the ground truth against a mart's, matched by overlapping time."""

    truth: int
    found: int
    matched: int
    """True ones with a found one of the same vehicle (and place) overlapping them."""
    found_without_truth: int
    """Found ones that overlap no true one."""


@dataclass(frozen=True)
class SilenceComparison:
    """The simulator's silences over an hour against what the warehouse shows of them."""

    truth: int
    still_silent: int
    matched: int
    signal_lost: int
    """Matched by a trip of ``marts.trips`` ended by the silence (signal_lost or gap)."""
    data_gap: int
    """Matched by a gap of over ``silent_after_s`` between the vehicle's periodic records."""
    status_silent: int
    """Still silent, and ``marts.vehicle_status.silent_s`` is as long (``STATUS_SLACK_S``)."""


@dataclass(frozen=True)
class VisitComparison:
    """Place visits of the ground truth against ``marts.place_visits``."""

    visits: OverlapComparison
    """The visits expected in the warehouse against its visits."""
    too_recent: int
    """True visits that began too shortly before the vehicle's last record to be a stop."""
    found_discovered: int
    """Visits at discovered places (the truth names only the imported places)."""
    found_first: int
    """Found visits at named places without truth that are the stay before a vehicle's first
    trip (the truth does not count it as a visit)."""


IDLE_TOLERANCE = 0.10
IDLE_SLACK_S = 60.0
"""A vehicle's idle agrees when within 10 %, or 60 s: the socket shows one record in three
(one every 30 s while driving), so each idle stretch is measured to about a step."""


STATUS_SLACK_S = 60.0
"""A vehicle's silence in ``marts.vehicle_status`` runs from its last record to the latest
device time in the warehouse; the truth's, from coverage loss to the simulator's stop. The
last upload before the loss and the latest record before the stop each lag up to 30 s."""


def load_truth(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """The ground truth of every file that exists, its lists merged across runs.

    I/O changes are kept only when the simulator had sent them when it stopped: a silent
    device's changes wait for its next upload, which may come after the run ended.
    """
    merged: dict[str, list[dict[str, Any]]] = {
        key: [] for key in ("trips", "io_changes", "messages", "vehicles",
                            "overspeed_episodes", "silences", "silent_periods", "place_visits")
    }
    for path in files:
        if not path.exists():
            continue
        truth = json.loads(path.read_text(encoding="utf-8"))
        stopped = datetime.fromtimestamp(float(truth["now"]), UTC)
        merged["trips"].extend(truth.get("trips") or [])
        merged["messages"].extend(truth.get("messages") or [])
        for key in ("overspeed_episodes", "silences", "silent_periods", "place_visits"):
            merged[key].extend(truth.get(key) or [])
        known = {v["vid"] for v in merged["vehicles"]}
        merged["vehicles"].extend(v for v in truth.get("vehicles") or [] if v["vid"] not in known)
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


def compare_idle(
    con: duckdb.DuckDBPyConnection, truth: dict[str, list[dict[str, Any]]]
) -> IdleComparison:
    """Idle of each vehicle's finished true trips against ``marts.trips`` + ``marts.stops``.

    A vehicle's span ends at the end of its last finished true trip that the warehouse has
    records after (a device silent at the end of the run has not sent its last trip yet).
    Trips and stops during which the device lost coverage are compared apart: the
    warehouse does not see what the vehicle did while it sent nothing.
    """
    last_seen = dict(con.execute("select vid, max(tmx) from core.records group by vid").fetchall())
    found_rows = con.execute("""
        select vid, start_time, end_time, coalesce(idle_s, 0) from marts.trips
        union all
        select vid, start_time, end_time, coalesce(idle_s, 0) from marts.stops
    """).fetchall()
    coverage_lost: dict[int, list[Interval]] = {}
    for period in truth["silent_periods"]:
        coverage_lost.setdefault(int(period["vid"]), []).append(
            (_time(period["from"]), _optional_time(period.get("until"))))
    with_ignition = [v for v in truth["vehicles"] if v.get("has_ignition")]
    totals = {"truth": 0.0, "found": 0.0, "lost_truth": 0.0, "lost_found": 0.0}
    within = compared = 0
    for vehicle in with_ignition:
        vid = int(vehicle["vid"])
        seen = last_seen.get(vid)
        lost = coverage_lost.get(vid, [])

        def blind(span: Interval, lost: list[Interval] = lost) -> bool:
            return any(_overlaps(span, period) for period in lost)

        finished = [t for t in truth["trips"] if int(t["vid"]) == vid and not t.get("open")
                    and seen is not None and _time(t["end"]) <= seen]
        if not finished:
            continue
        span_end = max(_time(t["end"]) for t in finished)
        truth_s = lost_truth_s = 0.0
        for trip in finished:
            idle = float(trip.get("idle_s") or 0)
            if blind((_time(trip["start"]), _time(trip["end"]))):
                lost_truth_s += idle
            else:
                truth_s += idle
        found_s = lost_found_s = 0.0
        for v, start, end, idle in found_rows:
            if int(v) != vid or start >= span_end:
                continue
            if blind((start, end)):
                lost_found_s += float(idle)
            else:
                found_s += float(idle)
        compared += 1
        within += abs(found_s - truth_s) <= max(IDLE_TOLERANCE * truth_s, IDLE_SLACK_S)
        for key, value in (("truth", truth_s), ("found", found_s),
                           ("lost_truth", lost_truth_s), ("lost_found", lost_found_s)):
            totals[key] += value
    return IdleComparison(
        vehicles=compared,
        no_ignition=len(truth["vehicles"]) - len(with_ignition),
        truth_s=totals["truth"],
        found_s=totals["found"],
        within=within,
        coverage_lost_truth_s=totals["lost_truth"],
        coverage_lost_found_s=totals["lost_found"],
    )


Interval = tuple[datetime, datetime | None]
"""A span of time; ``None``: still going on."""


def _overlaps(a: Interval, b: Interval) -> bool:
    return (b[1] is None or a[0] <= b[1]) and (a[1] is None or b[0] <= a[1])


def _match(truth: dict[Any, list[Interval]], found: dict[Any, list[Interval]],
           unexpected: dict[Any, list[Interval]] | None = None) -> OverlapComparison:
    """Count the true spans overlapped by a found one of the same key, and the found spans
    that overlap no true one (``unexpected``: true spans not counted as expected)."""
    every_truth = {key: truth.get(key, []) + (unexpected or {}).get(key, [])
                   for key in {*truth, *(unexpected or {})}}
    matched = sum(
        1 for key, spans in truth.items() for span in spans
        if any(_overlaps(span, other) for other in found.get(key, []))
    )
    unmatched = sum(
        1 for key, spans in found.items() for span in spans
        if not any(_overlaps(span, other) for other in every_truth.get(key, []))
    )
    return OverlapComparison(
        truth=sum(map(len, truth.values())),
        found=sum(map(len, found.values())),
        matched=matched,
        found_without_truth=unmatched,
    )


def compare_overspeed(
    con: duckdb.DuckDBPyConnection, episodes: list[dict[str, Any]]
) -> OverlapComparison:
    """Match the true overspeed episodes to ``marts.overspeed`` by vehicle and time."""
    truth: dict[Any, list[Interval]] = {}
    for episode in episodes:
        truth.setdefault(int(episode["vid"]), []).append(
            (_time(episode["start"]), _time(episode["end"])))
    found: dict[Any, list[Interval]] = {}
    for vid, start, end in con.execute(
        "select vid, start_time, end_time from marts.overspeed"
    ).fetchall():
        found.setdefault(int(vid), []).append((start, end))
    return _match(truth, found)


def compare_silences(
    con: duckdb.DuckDBPyConnection, silences: list[dict[str, Any]], silent_after_s: float
) -> SilenceComparison:
    """Find each true silence in the warehouse: a trip it ended, a gap, a silent status.

    A silence is found by a trip of the vehicle ended by signal loss or a gap within its
    span; by a gap of over ``silent_after_s`` between two of the vehicle's periodic
    records (``source = 'records'``: the events a device holds while out of coverage come
    later with their own times and fill the trips in, the periodic records it logged
    meanwhile do not); or, for a device still silent, by ``marts.vehicle_status`` showing
    it silent (``silent_s``) about as long as it has been.
    """
    ended = con.execute("""
        select vid, end_time from marts.trips
        where end_reason in ('signal_lost', 'gap') or list_contains(flags, 'signal_lost')
    """).fetchall()
    gaps = con.execute("""
        select vid, tmx, next_tmx from (
            select vid, tmx, lead(tmx) over (partition by vid order by tmx) as next_tmx
            from core.records where source = 'records'
        ) where epoch(next_tmx) - epoch(tmx) > ?
    """, [silent_after_s]).fetchall()
    silent_for = {int(vid): float(seconds) for vid, seconds in con.execute(
        "select vid, silent_s from marts.vehicle_status").fetchall()}
    by_signal_lost = by_gap = by_status = matched = 0
    for silence in silences:
        vid = int(silence["vid"])
        span: Interval = (_time(silence["from"]), _optional_time(silence.get("until")))
        # the last upload before coverage went out can be up to 15 min earlier (parked)
        lost = (span[0] - timedelta(minutes=15), span[1])
        signal_lost = any(int(v) == vid and _overlaps((end, end), lost) for v, end in ended)
        gap = any(int(v) == vid and _overlaps((a, b), span) for v, a, b in gaps)
        status = span[1] is None and silent_for.get(vid, 0) >= (
            float(silence["seconds"]) - STATUS_SLACK_S)
        by_signal_lost += signal_lost
        by_gap += gap
        by_status += status
        matched += signal_lost or gap or status
    return SilenceComparison(
        truth=len(silences),
        still_silent=sum(1 for s in silences if s.get("until") is None),
        matched=matched,
        signal_lost=by_signal_lost,
        data_gap=by_gap,
        status_silent=by_status,
    )


def compare_place_visits(
    con: duckdb.DuckDBPyConnection, visits: list[dict[str, Any]], min_stop_s: float
) -> VisitComparison:
    """Match the true place visits to ``marts.place_visits`` by vehicle, place and time.

    A visit is expected in the warehouse once it holds a record of the vehicle at least
    ``min_stop_s`` after the arrival (a shorter stay is no stop yet); a parked device
    reports every 15 min, so the visits of the last minutes of a run come with the next.
    """
    last_seen = dict(con.execute("select vid, max(tmx) from core.records group by vid").fetchall())
    truth: dict[Any, list[Interval]] = {}
    too_recent: dict[Any, list[Interval]] = {}
    for visit in visits:
        vid = int(visit["vid"])
        span = (_time(visit["arrived_at"]), _optional_time(visit.get("left_at")))
        seen = last_seen.get(vid)
        expected = seen is not None and (seen - span[0]).total_seconds() >= min_stop_s
        (truth if expected else too_recent).setdefault((vid, visit["place"]), []).append(span)
    rows = con.execute(
        "select vid, place, kind, arrived_at, left_at, list_contains(flags, 'first') "
        "from marts.place_visits"
    ).fetchall()
    found: dict[Any, list[Interval]] = {}
    for vid, place, _, arrived, left, _ in rows:
        found.setdefault((int(vid), place), []).append((arrived, left))
    first_without_truth = sum(
        1 for vid, place, kind, arrived, left, first in rows
        if first and kind == "named" and not any(
            _overlaps((arrived, left), span)
            for span in truth.get((int(vid), place), []) + too_recent.get((int(vid), place), []))
    )
    return VisitComparison(
        visits=_match(truth, found, too_recent),
        too_recent=sum(map(len, too_recent.values())),
        found_discovered=sum(1 for row in rows if row[2] == "discovered"),
        found_first=first_without_truth,
    )


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else _time(value)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_catalog = "
        "current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0])  # type: ignore[index]


def warehouse_line(con: duckdb.DuckDBPyConnection, layout: DataLayout) -> str:
    """Where the warehouse is, its snapshot, and the verdict of the last build's checks."""
    snapshot = con.execute("select id from current_snapshot()").fetchone()[0]  # type: ignore[index]
    verdict = con.execute(
        "select passed, rows_validated, reconciliations from meta.checks "
        "order by checked_at desc limit 1").fetchone() if _table_exists(
            con, "meta", "checks") else None
    if verdict is None:
        checks = "no build checked it yet"
    elif verdict[0]:
        checks = (f"the last build's checks passed ({verdict[1]:,} mart rows validated, "
                  f"{verdict[2]} reconciliations)")
    else:
        checks = "the last build's checks FAILED (see the DAG's log)"
    return f"warehouse:    {layout.warehouse} at snapshot {snapshot}; {checks}"


def print_summary(layout: DataLayout, truth_files: list[Path], out: IO[str]) -> None:
    """Print the demo's summary from the raw lake and the warehouse."""
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
    if not layout.warehouse_catalog.exists():
        say(f"no warehouse at {layout.warehouse} (Airflow was skipped)")
        return
    truth = load_truth(truth_files)
    con = open_warehouse(layout.root, read_only=True)
    try:
        say(warehouse_line(con, layout))
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
        for line in truth_lines(con, truth):
            say(line)
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
    say(f"query it:     ./run trackit sql{_data_option(layout)} "
        "\"select * from marts.vehicle_status\"   (README: Querying)")


def _data_option(layout: DataLayout) -> str:
    """``--data DIR`` unless ``./run``'s default data dir (the clone's ``data/``) is it."""
    default = REPO / "data"
    if layout.root.resolve() == default.resolve() and not os.environ.get(DATA_ENV):
        return ""
    return f" --data {shlex.quote(str(layout.root))}"


def truth_lines(con: duckdb.DuckDBPyConnection,
                truth: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line each for idle, overspeed, silences and place visits against the truth."""
    config = WarehouseConfig()
    idle = compare_idle(con, truth)
    speed = compare_overspeed(con, truth["overspeed_episodes"])
    silent = compare_silences(con, truth["silences"], config.silent_after_s)
    places = compare_place_visits(con, truth["place_visits"], config.min_stop_s)
    visits = places.visits
    other = visits.found_without_truth - places.found_discovered - places.found_first
    return [
        f"idle:         {idle.found_s / 3600:,.2f} h in the marts vs {idle.truth_s / 3600:,.2f} "
        f"h true on finished trips with full coverage; {idle.within} of {idle.vehicles} "
        f"vehicles within {IDLE_TOLERANCE:.0%} ({idle.no_ignition} without ignition input); "
        f"trips with a coverage loss: {idle.coverage_lost_found_s / 3600:,.2f} h vs "
        f"{idle.coverage_lost_truth_s / 3600:,.2f} h true",
        f"overspeed:    of the simulator's {speed.truth} episodes above the limit "
        f"{speed.matched} were found in marts.overspeed ({speed.found} there, "
        f"{speed.found_without_truth} without a true one)",
        f"silences:     of the simulator's {silent.truth} silences over an hour "
        f"({silent.still_silent} still silent) {silent.matched} were found "
        f"({silent.signal_lost} ended a trip, {silent.data_gap} a gap in the periodic "
        f"records, {silent.status_silent} still silent in marts.vehicle_status)",
        f"place visits: of the simulator's {visits.truth} visits to named places "
        f"{visits.matched} were found in marts.place_visits ({places.too_recent} more began "
        f"too late to be a stop yet); of its {visits.found} visits "
        f"{visits.found_without_truth} have no true one ({places.found_discovered} at "
        f"discovered places, {places.found_first} the stay before a first trip, {other} other)",
    ]


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} s"
