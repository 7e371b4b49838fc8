"""One surrogate-key recipe: ``surrogate_key(...)`` of marts/macros.sql, and the ids it makes.

The ids are md5 of the parts joined by '|' (a NULL part spelled ``NULL``). trip_id and
episode_id are md5 of "<vid>|<start time in epoch µs>" and event_latency's source_id of a
driver message md5 of "<uid>|<tmx in epoch µs>|<eid>" (core.driver_messages.eid is part of
the table's key, never NULL): analysts and other marts keep them, and event_latency
replaces rows by source_id, so the tests recompute them in Python from those strings.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

from warehouse_handmade import at, build, drive, parked, query, write

import marts

MARTS_DIR = Path(marts.__file__).parent


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def epoch_us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def speeding_trip(vid: int) -> list[dict]:
    """A trip at 36 km/h, then 130 km/h (above the 120 km/h limit), then parked."""
    rows = drive(vid, 0, 300, speed_kmh=36)
    rows += drive(vid, 300, 300, start_m=3000, speed_kmh=130, odometer0=3000)[1:]
    rows += parked(vid, 630, 900, at_m=3000 + 130 / 3.6 * 300, odometer=None)
    return rows


def test_mart_ids_are_the_recipe_and_keep_their_values(tmp_path: Path) -> None:
    messages = [
        {"uid": 1011, "kind": "free", "text": "hello", "tmx": at(0), "rmx": at(1),
         "received_at": at(3), "eid": 3951, "seq": 0},
        {"uid": 1011, "kind": "free", "text": "later", "tmx": at(60), "rmx": at(61),
         "received_at": at(63), "eid": 3951, "seq": 1},
    ]
    write(tmp_path, records=speeding_trip(11), driver_messages=messages)
    build(tmp_path)

    trips = query(tmp_path, "select trip_id, vid, start_time, "
                            "surrogate_key(vid, epoch_us(start_time)) as recipe from marts.trips")
    assert trips
    for trip in trips:
        assert trip["trip_id"] == md5(f"{trip['vid']}|{epoch_us(trip['start_time'])}")
        assert trip["trip_id"] == trip["recipe"]

    episodes = query(tmp_path, "select episode_id, vid, start_time, trip_id from marts.overspeed")
    assert episodes
    for episode in episodes:
        assert episode["episode_id"] == md5(f"{episode['vid']}|"
                                            f"{epoch_us(episode['start_time'])}")
        assert episode["trip_id"] in {trip["trip_id"] for trip in trips}

    sources = {r["tmx"]: r["source_id"] for r in query(
        tmp_path, "select tmx, source_id from marts.event_latency where kind = 'driver_message'")}
    assert sources == {
        at(0): md5(f"1011|{epoch_us(at(0))}|3951"),
        at(60): md5(f"1011|{epoch_us(at(60))}|3951"),
    }
    [(nullable,)] = [tuple(r.values()) for r in query(tmp_path, """
        select is_nullable from information_schema.columns
        where table_schema = 'core' and table_name = 'driver_messages'
          and column_name = 'eid'""")]
    assert nullable == "NO"  # so the source_id of every message has the three parts


def test_the_macro_is_stored_in_the_warehouse_and_spells_null(tmp_path: Path) -> None:
    write(tmp_path, records=speeding_trip(11))
    build(tmp_path)
    [row] = query(tmp_path, """
        select surrogate_key(7, 'x') as two, surrogate_key(7, null, 'x') as three,
               surrogate_key(1, 2, 3, 4) as four, surrogate_key(1.5, 2) as mixed
    """)
    assert row == {"two": md5("7|x"), "three": md5("7|NULL|x"), "four": md5("1|2|3|4"),
                   "mixed": md5("1.5|2")}


def test_no_mart_makes_an_id_its_own_way() -> None:
    for path in sorted(MARTS_DIR.glob("*.sql")):
        if path.name == "macros.sql":
            continue
        found = re.findall(r"\b(md5|sha\d*|hash|concat_ws)\s*\(", path.read_text(), re.I)
        assert not found, f"{path.name} computes an id with {found}: use surrogate_key(...)"
