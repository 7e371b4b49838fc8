"""The simulator's places file imports cleanly, and marts.place_visits finds the visits
its ground truth lists (raw lake recorded from the real simulator through the real ingest,
transformed and built)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lake.ducklake import open_warehouse
from trackit.cli import main
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _close(a: datetime | None, b: datetime, seconds: float) -> bool:
    return a is not None and abs((a - b).total_seconds()) <= seconds


def test_simulated_place_visits_match_the_ground_truth(
        simulated_lake: Path, simulated_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    places_file = simulated_lake / "places.csv"
    assert main(["places", "import", str(places_file), "--data", str(simulated_data)]) == 0
    truth = json.loads((simulated_data.parent / "truth.json").read_text())
    assert f"imported {len(truth['places'])} places" in capsys.readouterr().out

    transform_lake(simulated_data)
    build_warehouse(simulated_data)
    con = open_warehouse(simulated_data, read_only=True)
    try:
        visits = con.execute("select vid, place, kind, arrived_at, left_at, flags "
                             "from marts.place_visits").fetchall()
        stops = con.execute("select count(*) from marts.stops").fetchone()[0]
        last_seen = dict(con.execute("select vid, max(tmx) from core.records group by vid")
                         .fetchall())
    finally:
        con.close()

    silent = [(p["vid"], _iso(p["from"]), _iso(p["until"]) if p["until"] else None)
              for p in truth["silent_periods"]]

    def heard_throughout(vid: int, start: datetime, end: datetime) -> bool:
        return not any(v == vid and s < end + timedelta(minutes=10)
                       and (u is None or u > start) for v, s, u in silent)

    # every visit the simulator completed well before its data ended is found, right
    expected = [
        v for v in truth["place_visits"]
        if v["left_at"] and v["vid"] in last_seen
        and _iso(v["left_at"]) < last_seen[v["vid"]] - timedelta(minutes=10)
        and heard_throughout(v["vid"], _iso(v["arrived_at"]), _iso(v["left_at"]))
    ]
    assert len(expected) >= 5
    for v in expected:
        found = [m for m in visits if m[0] == v["vid"]
                 and _close(m[3], _iso(v["arrived_at"]), 2)]
        assert found, f"visit of {v['vid']} to {v['place']} at {v['arrived_at']} not found"
        _, place, kind, _, left_at, flags = found[0]
        assert (place, kind) == (v["place"], "named")
        assert _close(left_at, _iso(v["left_at"]), 2) and "first" not in flags
    # vehicles park only at named places: no stop needs discovering, every stop is a visit
    assert all(kind == "named" for _, _, kind, *_ in visits)
    assert len(visits) == stops
    print(f"{len(expected)} visits of the ground truth checked, {len(visits)} in the mart")
