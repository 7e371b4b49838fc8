"""Idling, overspeed, a long silence, shared drivers and deliveries at named places: the
ground truth agrees with a computation of its own from the frames the fleet sends."""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from simulator_test_client import START, kind

from simulator import frames
from simulator.fleet import Fleet
from simulator.geo import haversine_m
from simulator.timefmt import LOCAL_ZONE, parse_iso

HOURS = 10
NOW = START + HOURS * 3600
AFTER = 2 * 3600  # frames held by a silent device arrive within two hours
VEHICLES = 10


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict, Path]:
    fleet = Fleet(VEHICLES, seed=3, start=START)
    sent = []
    for message in fleet.messages():
        if message.emit > NOW + AFTER:
            break
        frame = json.loads(frames.dumps(message))
        frame["_sent_at"] = message.emit  # when the server sent it (what a client receives)
        sent.append(frame)
    folder = tmp_path_factory.mktemp("truth")
    fleet.truth.write(folder / "ground_truth.json", NOW)
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    return sent, truth, folder / "places.csv"


def device_records(sent: list[dict]) -> dict[int, list[dict]]:
    """Per vid, the records the device sent (batches' last records and event records) with
    ``tmx`` up to NOW, by time; the same record sent twice counts once."""
    by_vid: dict[int, dict[str, dict]] = defaultdict(dict)
    for frame in sent:
        if kind(frame) == "records":
            record = frame["params"]["lastRecord"]
        elif kind(frame) in ("event/io", "event/event"):
            record = frame["params"]["record"]
        else:
            continue
        if parse_iso(record["tmx"]) <= NOW:
            by_vid[record["vid"]][record["tmx"]] = record
    return {vid: [records[t] for t in sorted(records, key=parse_iso)]
            for vid, records in by_vid.items()}


def device_emits(sent: list[dict]) -> dict[int, list[float]]:
    """Per uid, when the server sent the frames of its device (records and events)."""
    emits: dict[int, list[float]] = defaultdict(list)
    for frame in sent:
        if kind(frame) in ("records", "event/io", "event/event"):
            emits[frame["uid"]].append(frame["_sent_at"])
    return emits


def test_idle_seconds_match_the_records(run) -> None:
    sent, truth, _ = run
    idle = {row["vid"]: row for row in truth["idle"]}
    with_ignition = {v["vid"] for v in truth["vehicles"] if v["has_ignition"]}
    silent = {p["vid"] for p in truth["silent_periods"]}
    estimated: dict[int, float] = defaultdict(float)
    for vid, records in device_records(sent).items():
        ignition = 0
        for a, b in itertools.pairwise(records):  # each record's state holds until the next
            tlm = a["exd"].get("tlm", {})  # an event's record: the input that changed
            ignition = a["exd"].get("io", {}).get(
                "1", tlm["tlv"] if tlm.get("tio") == 1 else ignition)
            seconds = parse_iso(b["tmx"]) - parse_iso(a["tmx"])
            # With the ignition on a device logs every 10 s and uploads every 30 s: a longer
            # gap is a silence, whose records the socket never shows.
            if ignition == 1 and a["gsp"] <= 5 and seconds <= 30.5:
                estimated[vid] += seconds
    compared = 0
    for vid, row in idle.items():
        assert sum(row["days"].values()) == pytest.approx(row["idle_s"], abs=0.5)
        if vid not in with_ignition:
            assert row["idle_s"] == 0 and estimated[vid] == 0
            continue
        assert row["idle_s"] > 1800  # lights, warm-ups, waits at customers over 10 h
        if vid in silent:
            assert estimated[vid] <= row["idle_s"] * 1.05
        else:  # one record in three, sampled: within a few per cent
            assert estimated[vid] == pytest.approx(row["idle_s"], rel=0.05, abs=120)
            compared += 1
    assert compared >= 1
    assert len({day for row in idle.values() for day in row["days"]}) == 2


def test_trip_idle_counts_standing_time_with_the_ignition_on(run) -> None:
    _, truth, _ = run
    trips = [t for t in truth["trips"] if not t["open"] and t["detection"] == "ignition"]
    long_waits = 0
    for trip in trips:
        duration = parse_iso(trip["end"]) - parse_iso(trip["start"])
        warmup = parse_iso(trip["motion_start"]) - parse_iso(trip["start"])
        end_wait = parse_iso(trip["end"]) - parse_iso(trip["arrival"])
        assert warmup + end_wait - 0.2 <= trip["idle_s"] < duration
        long_waits += end_wait >= 180
    assert 0.1 < long_waits / len(trips) < 0.4


def overspeed_from_records(records: list[dict], limit: int) -> list[dict]:
    episodes: list[dict] = []
    episode = None
    for record in records:
        if record["gsp"] > limit:
            if episode is None:
                episode = {"start": record["tmx"], "end": None, "max": 0, "above": 0}
                episodes.append(episode)
            episode["max"] = max(episode["max"], record["gsp"])
            episode["above"] += 1
            episode["last_above"] = record["tmx"]
        elif episode is not None:
            episode["end"] = record["tmx"]
            episode = None
    return [(e["start"], e["end"] or e["last_above"], e["max"], e["above"], e["end"] is None)
            for e in episodes]


def test_overspeed_episodes_match_the_records(run) -> None:
    sent, truth, _ = run
    speeders = {v["vid"] for v in truth["vehicles"] if v["speeder"]}
    assert 0 < len(speeders) <= VEHICLES // 4
    expected = {vid: overspeed_from_records(records, truth["overspeed_kmh"])
                for vid, records in device_records(sent).items()}
    found: dict[int, list] = defaultdict(list)
    for e in truth["overspeed_episodes"]:
        found[e["vid"]].append((e["start"], e["end"], e["max_speed_kmh"], e["records_above"],
                                e["open"]))
    assert {vid: episodes for vid, episodes in expected.items() if episodes} == dict(found)
    assert set(found) <= speeders
    assert sum(len(e) for e in found.values()) >= 5
    assert any(e[3] >= 2 for episodes in found.values() for e in episodes)


def test_a_device_goes_silent_mid_trip_for_more_than_an_hour(run) -> None:
    sent, truth, _ = run
    silences = truth["silences"]
    assert any(s["mid_trip"] and s["moving"] and s["seconds"] > 3600 for s in silences)
    emits = device_emits(sent)
    # Every gap of more than an hour in what a device sends is a silence of the truth...
    gaps = set()
    for uid, times in emits.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            if b - a > truth["silent_after_s"] + 60 and a <= NOW - truth["silent_after_s"]:
                gaps.add((uid, a, b))
    assert len(gaps) == len(silences)
    for silence in silences:
        start, until = parse_iso(silence["from"]), parse_iso(silence["until"])
        # ...from the device's last upload before it lost coverage (every 30 s on a trip,
        # every 15 min parked) to its return.
        (gap,) = [g for g in gaps if g[0] == silence["uid"] and g[1] <= start <= g[2]]
        assert start - gap[1] <= (40 if silence["mid_trip"] else 960)
        assert 0 < gap[2] - until <= 10
        others = [t for uid, times in emits.items() if uid != silence["uid"] for t in times
                  if start < t < until]
        assert len(others) > 100  # the fleet goes on


def test_drivers_share_vehicles_across_days(run) -> None:
    sent, truth, _ = run
    days_of_card: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for vid, records in device_records(sent).items():
        for record in records:
            card = (record["exd"].get("eco") or {}).get("dcl")
            if card is not None and record["gsp"] > 0:
                assert len(card) == 16 and card.startswith("000")
                day = datetime.fromtimestamp(parse_iso(record["tmx"]), LOCAL_ZONE).date()
                days_of_card[card][day.isoformat()].add(vid)
    truth_pairs = {(d["driver_card"], d["vid"]) for d in truth["driver_days"]}
    assert truth_pairs == {(card, vid) for card, days in days_of_card.items()
                           for vids in days.values() for vid in vids}
    cards_of_vid: dict[int, set[str]] = defaultdict(set)
    for card, vid in truth_pairs:
        cards_of_vid[vid].add(card)
    assert any(len(cards) >= 2 for cards in cards_of_vid.values())  # drivers take turns
    assert any(len({vid for vids in days.values() for vid in vids}) >= 2
               for days in days_of_card.values())  # a driver changes vehicle


def read_places(path: Path) -> dict[str, tuple[float, float, float]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["name", "lat", "lon", "radius_m"]
    places = {row["name"]: (float(row["lat"]), float(row["lon"]), float(row["radius_m"]))
              for row in rows}
    assert len(places) == len(rows)
    return places


def place_at(places: dict[str, tuple[float, float, float]], lat: float, lon: float) -> str:
    (name,) = [name for name, (plat, plon, radius) in places.items()
               if haversine_m(lat, lon, plat, plon) <= radius]
    return name


def test_stops_are_visits_to_the_named_places_of_the_places_file(run) -> None:
    sent, truth, places_file = run
    places = read_places(places_file)
    assert {p["name"] for p in truth["places"]} == set(places)
    ignition: dict[int, list[tuple[str, int, float, float]]] = defaultdict(list)
    for frame in sent:
        if kind(frame) == "event/io" and frame["params"]["record"]["exd"]["tlm"]["tio"] == 1:
            record = frame["params"]["record"]
            ignition[record["vid"]].append((record["tmx"], record["exd"]["tlm"]["tlv"],
                                            record["loc"]["lat"], record["loc"]["lon"]))
    expected = set()
    for vid, changes in ignition.items():
        changes.sort(key=lambda c: parse_iso(c[0]))
        for off, on in itertools.pairwise(changes):
            if off[1] == 0 and on[1] == 1 and parse_iso(on[0]) <= NOW:
                expected.add((vid, place_at(places, off[2], off[3]), off[0], on[0]))
    with_ignition = {v["vid"] for v in truth["vehicles"] if v["has_ignition"]}
    found = {(v["vid"], v["place"], v["arrived_at"], v["left_at"])
             for v in truth["place_visits"] if not v["open"] and v["vid"] in with_ignition}
    assert len(found) > 100
    assert found == expected
    kinds = {v["kind"] for v in truth["place_visits"]}
    assert kinds == {"depot", "customer"}


def test_deliveries_happen_at_named_customers_and_some_fail(run) -> None:
    sent, truth, places_file = run
    places = read_places(places_file)
    customers = {p["name"] for p in truth["places"] if p["kind"] == "customer"}
    place_of = {s["service_event_id"]: s["place"] for s in truth["services"]}
    outcomes = []
    for frame in sent:
        if kind(frame) == "service-generic" and parse_iso(frame["params"]["event"]["tmx"]) <= NOW:
            event = frame["params"]["event"]
            name = place_at(places, event["loc"]["lat"], event["loc"]["lng"])
            assert name in customers and place_of[event["_id"]] == name
            outcomes.append((event["exd"]["evt"]["delivered"], event["exd"]["evt"]["msg"]))
    failed = [text for delivered, text in outcomes if not delivered]
    assert 0.1 < len(failed) / len(outcomes) < 0.45
    assert all(text.startswith("Not delivered - ") for text in failed)
