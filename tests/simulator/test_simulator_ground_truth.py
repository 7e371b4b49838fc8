"""The ground truth agrees with the frames the simulator sends."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import pytest
from simulator_test_client import START, kind

from simulator import frames
from simulator.fleet import Fleet
from simulator.geo import haversine_m
from simulator.timefmt import parse_iso

HOURS = 8


@pytest.fixture(scope="module")
def run() -> tuple[list[dict], dict]:
    fleet = Fleet(8, seed=5, start=START)
    sent = []
    for message in fleet.messages():
        if message.emit > START + HOURS * 3600:
            break
        sent.append(json.loads(frames.dumps(message)))
    return sent, fleet.truth.snapshot(START + HOURS * 3600)


def test_every_closed_trip_has_odometer_delta_equal_to_its_distance(run) -> None:
    _, truth = run
    closed = [t for t in truth["trips"] if not t["open"]]
    assert len(closed) > 50
    for trip in closed:
        assert trip["odometer_delta_m"] == trip["odometer_end_m"] - trip["odometer_start_m"]
        assert abs(trip["odometer_delta_m"] - trip["distance_m"]) <= 1
        assert trip["distance_m"] >= 300  # at least one street (depot trips can be short)
        assert trip["distance_m"] >= haversine_m(trip["start_lat"], trip["start_lon"],
                                                 trip["end_lat"], trip["end_lon"])


def test_ignition_events_carry_the_trip_odometer_readings(run) -> None:
    sent, truth = run
    ignition = {}
    for frame in sent:
        if kind(frame) == "event/io" and frame["params"]["record"]["exd"]["tlm"]["tio"] == 1:
            record = frame["params"]["record"]
            ignition[(record["vid"], record["tmx"], record["exd"]["tlm"]["tlv"])] = record["gkm"]
    trips = [t for t in truth["trips"] if not t["open"] and t["detection"] == "ignition"]
    assert trips
    for trip in trips:
        on = ignition.get((trip["vid"], trip["start"], 1))
        off = ignition.get((trip["vid"], trip["end"], 0))
        if on is None or off is None:  # still held by a silent device at the cut-off
            continue
        assert off - on == trip["odometer_delta_m"]


def test_io_events_sent_match_the_io_changes(run) -> None:
    sent, truth = run
    events = {
        frame["params"]["event"]["_id"]: (
            frame["params"]["record"]["vid"], frame["params"]["record"]["tmx"],
            frame["params"]["record"]["exd"]["tlm"]["tio"],
            frame["params"]["record"]["exd"]["tlm"]["tlv"])
        for frame in sent if kind(frame) == "event/io"
    }
    emitted = {c["event_id"]: (c["vid"], c["tmx"], c["io"], c["to_value"])
               for c in truth["io_changes"] if parse_iso(c["emitted"]) <= START + HOURS * 3600}
    assert events == emitted
    for change in truth["io_changes"]:
        assert change["from_value"] != change["to_value"]


def test_positions_speeds_and_odometer_agree_between_records(run) -> None:
    sent, _ = run
    by_vehicle: dict[int, list[dict]] = defaultdict(list)
    for frame in sent:
        if kind(frame) == "records":
            by_vehicle[frame["params"]["lastRecord"]["vid"]].append(frame["params"]["lastRecord"])
    checked = 0
    for records in by_vehicle.values():
        records.sort(key=lambda r: r["tmx"])
        for a, b in itertools.pairwise(records):
            moved = haversine_m(a["loc"]["lat"], a["loc"]["lon"], b["loc"]["lat"],
                                b["loc"]["lon"])
            odometer = b["gkm"] - a["gkm"]
            seconds = parse_iso(b["tmx"]) - parse_iso(a["tmx"])
            assert odometer >= 0
            assert moved <= odometer + 2  # a path is never shorter than the chord
            assert odometer <= seconds * 140 / 3.6 + 2  # never faster than 140 km/h
            checked += 1
        moving = [r for r in records if r["gsp"] > 0]
        assert all(0 <= r["hdg"] < 360 for r in moving)
    assert checked > 1000


def test_silent_devices_come_back_with_a_batch(run) -> None:
    sent, truth = run
    assert truth["silent_periods"]
    totals = [f["params"]["total"] for f in sent if kind(f) == "records"]
    assert max(totals) > 10  # a batch uploaded after a silence
    assert any(f["params"]["status"] == 0 for f in sent if kind(f) == "connection")


def test_ground_truth_lists_texts_forms_and_services_that_were_sent(run) -> None:
    sent, truth = run
    sent_services = {f["params"]["event"]["_id"] for f in sent if kind(f) == "service-generic"}
    assert {s["service_event_id"] for s in truth["services"]} >= sent_services
    assert len({f["params"]["event"]["frm"]["fnm"] for f in sent if kind(f) == "form"}) >= 3
    assert len(truth["forms"]) >= sum(1 for f in sent if kind(f) == "form")
    assert any(t["kind"] == "free" for t in truth["driver_texts"])


def test_some_vehicles_have_no_ignition_input(run) -> None:
    sent, truth = run
    without = {v["vid"] for v in truth["vehicles"] if not v["has_ignition"]}
    assert without
    for frame in sent:
        if kind(frame) == "records" and frame["params"]["lastRecord"]["vid"] in without:
            assert "1" not in frame["params"]["lastRecord"]["exd"]["io"]
    assert any(t["detection"] == "motion" for t in truth["trips"])
