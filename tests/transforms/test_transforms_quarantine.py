"""Malformed frames land in the quarantine with their stage and a meaningful reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RawWriter, read_table

from transforms.pipeline import transform_lake


def record(**changes: object) -> str:
    last = {"tmx": "2022-04-02T09:50:03.574Z", "vid": 826403,
            "loc": {"lon": -9.0127133, "lat": 38.5787133}, "gsp": 41, "hdg": 246,
            "gkm": 1613709, "exd": {"sat": 15, "io": {"1": 1}}}
    last.update(changes)
    return json.dumps({"uid": 1001, "params": {"type": "records", "total": 1,
                                               "lastRecord": last}})


CASES = [
    ("binary", "base64:AAECAwQ=", "parse", "binary frame"),
    ("truncated", '{"uid": 1001, "params": {"type": "records"', "parse", "not JSON"),
    ("single quotes", "{'uid': 1}", "parse", "not JSON"),
    ("plain text", "hello", "parse", "not JSON"),
    ("array", "[1, 2, 3]", "route", "JSON array, not an object"),
    ("string", '"records"', "route", "not an object"),
    ("no params", '{"uid": 1001}', "route", 'no "params" object'),
    ("params not object", '{"uid": 1001, "params": 5}', "route", '"params" is not an object'),
    ("no type", '{"uid": 1001, "params": {"status": 1}}', "route", '"params" has no "type"'),
    ("unknown type", '{"uid": 1, "params": {"type": "teleport"}}', "route",
     "unknown params.type 'teleport'"),
    ("unknown sub-type", '{"uid": 1, "params": {"type": "event", "sub-type": "x"}}', "route",
     "unknown event sub-type 'x'"),
    ("lat out of range", record(loc={"lat": 91.5, "lon": 1}), "validate:records",
     "records.lat = 91.5 fails in_range"),
    ("lon out of range", record(loc={"lat": 1, "lon": -181}), "validate:records",
     "records.lon = -181.0 fails in_range"),
    ("negative speed", record(gsp=-3), "validate:records", "records.speed_kmh = -3.0 fails"),
    ("heading > 360", record(hdg=361), "validate:records", "records.heading = 361.0 fails"),
    ("missing vid", record(vid=None), "validate:records", "records.vid is missing"),
    ("bad timestamp", record(tmx="2022-13-45T99:00:00Z"), "validate:records",
     'params.lastRecord.tmx: "2022-13-45T99:00:00Z" is not a timestamp'),
    ("text speed", record(gsp="fast"), "validate:records",
     'params.lastRecord.gsp: "fast" is not a number'),
    ("fractional integer", record(gkm=12.5), "validate:records",
     'params.lastRecord.gkm: "12.5" is not an integer'),
    ("io not numeric", record(exd={"io": {"1": "on"}}), "validate:records",
     "params.lastRecord.exd.io: an entry has a key or value of the wrong type"),
    ("txs out of range", '{"uid": 1, "params": {"type": "msg-sts", "id": "m", "txs": 9}}',
     "validate:message_status", "message_status.txs = 9 fails isin"),
    ("event without id",
     '{"uid": 1, "params": {"type": "event", "sub-type": "event", "event": {"tmx": '
     '"2022-04-02T10:07:03Z"}}}', "validate:events", "events.event_id is missing"),
]


@pytest.mark.parametrize(("frame", "stage", "reason"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_frame_is_quarantined_with_reason(
        data_dir: Path, write_raw: RawWriter, frame: str, stage: str, reason: str) -> None:
    raw = write_raw([record(), frame])
    summary = transform_lake(data_dir)
    assert summary.reconciles
    assert summary.quarantined_frames == 1 and summary.loaded_frames == 1
    q = read_table(data_dir, "quarantine")
    row = q.row(0, named=True)
    assert row["frame"] == frame  # byte for byte
    assert row["stage"] == stage
    assert reason in row["reason"], row["reason"]
    assert row["seq"] == 1 and row["raw_file"] == raw.relative_to(data_dir).as_posix()
    assert row["connection_id"] == "conn-1"


def test_a_failing_row_quarantines_its_whole_frame(data_dir: Path,
                                                    write_raw: RawWriter) -> None:
    # The event is fine but its record is not: nothing of the frame loads anywhere.
    frame = json.dumps({"uid": 1, "params": {"type": "event", "sub-type": "io",
        "record": {"_id": "r1", "tmx": "2022-04-02T10:07:03Z", "vid": 7,
                   "loc": {"lat": 123, "lon": 1}, "exd": {"tlm": {"tio": 1, "tlv": 0}}},
        "event": {"_id": "e1", "hid": "r1", "tmx": "2022-04-02T10:07:03Z"}}})
    write_raw([frame])
    summary = transform_lake(data_dir)
    assert summary.quarantined == {"validate:records": 1}
    assert read_table(data_dir, "events").height == 0
    assert read_table(data_dir, "io_events").height == 0


def test_trailing_comma_and_stray_braces_are_recovered(data_dir: Path,
                                                       write_raw: RawWriter) -> None:
    write_raw([
        '{"uid": 1, "params": {"type": "connection", "status": 0,},}',
        '{"uid": 2, "params": {"type": "connection", "status": 1}}}}',
        '{"uid": 3, "params": {"type": "connection", "status": 1}} trailing words',
    ])
    summary = transform_lake(data_dir)
    assert summary.loaded_frames == 2 and summary.quarantined_frames == 1
    assert sorted(read_table(data_dir, "connections")["uid"]) == [1, 2]
    assert "unexpected text after the value" in read_table(data_dir, "quarantine")["reason"][0]
