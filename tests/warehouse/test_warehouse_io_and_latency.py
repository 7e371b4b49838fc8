"""io_changes, message_latency, event_latency, vehicle_daily and core.commands on known rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from warehouse_handmade import at, build, drive, parked, query, write

from warehouse.config import WarehouseConfig

UID, VID = 1001, 826403


def io_row(seconds: float, io: int, value: float) -> dict:
    return {"vid": VID, "uid": UID, "tmx": at(seconds), "io": io, "value": value,
            "received_at": at(seconds + 1), "seq": 0}


def io_event(event_id: str, seconds: float, io: int, level: float) -> dict:
    return {"event_id": event_id, "vid": VID, "uid": UID, "tmx": at(seconds), "io": io,
            "level": level, "received_at": at(seconds + 2), "seq": 0}


def test_io_changes_merge_sources_skip_repeats_and_count_duplicates_once(tmp_path: Path) -> None:
    record_io = [io_row(0, 1, 0), io_row(60, 1, 0), io_row(120, 1, 1), io_row(180, 1, 1),
                 io_row(0, 8, 1)]
    events = [io_event("e1", 240, 1, 0), io_event("e2", 300, 1, 0)]
    snapshots = [{"uid": UID, "io": 1, "level": 1.0, "tmx": at(600), "received_at": at(601),
                  "seq": 0}]
    write(tmp_path, record_io=record_io, io_events=events, io_snapshots=snapshots)
    # the same event delivered again in a later file
    write(tmp_path, io_events=[io_event("e1", 240, 1, 0)])
    build(tmp_path)
    rows = query(tmp_path, "select * from marts.io_changes where io = 1 order by changed_at")
    assert [(r["changed_at"], r["from_value"], r["to_value"], r["source"]) for r in rows] == [
        (at(120), 0.0, 1.0, "record_io"),
        (at(240), 1.0, 0.0, "io_event"),
        (at(600), 0.0, 1.0, "io_snapshot"),
    ]
    assert rows[0]["previous_changed_at"] == at(0)  # the first value, since the first reading
    assert rows[1]["previous_changed_at"] == at(120)
    assert rows[1]["seconds_in_previous_state"] == 120
    assert rows[2]["vid"] == VID  # a snapshot has only a uid: the vid comes from its unit
    # an input that never changed has no change, only its state
    assert query(tmp_path, "select * from marts.io_changes where io = 8") == []


def status(message_id: str, txs: int, seconds: float, guid: str | None = None) -> dict:
    names = ["not_processed", "buffered", "error", "pending", "delivered", "read"]
    return {"uid": UID, "message_id": message_id, "txs": txs, "status": names[txs],
            "received_at": at(seconds), "guid": guid, "text": "hi" if txs == 0 else None,
            "seq": 0}


def test_message_latency_links_our_guid_to_the_server_id(tmp_path: Path) -> None:
    commands = [{"uid": UID, "command": "msg", "command_id": "GUID1", "sent_at": at(0),
                 "status": "sent", "text": "hi", "seq": 0}]
    statuses = [status("M1", 0, 1, guid="GUID1"), status("M1", 1, 2), status("M1", 3, 5),
                status("M1", 4, 30), status("M1", 5, 90),
                status("M9", 0, 10), status("M9", 2, 11)]  # not sent by us
    write(tmp_path, commands=commands)
    write(tmp_path, message_status=statuses[:3])
    build(tmp_path)
    [pending] = query(tmp_path, "select * from marts.message_latency where guid = 'GUID1'")
    assert pending["final_status"] == "pending" and pending["delivered_at"] is None
    write(tmp_path, message_status=statuses[3:])
    build(tmp_path)
    rows = query(tmp_path, "select * from marts.message_latency order by message_id")
    assert len(rows) == 2
    ours, theirs = rows
    assert ours["message_id"] == "M1" and ours["sent_at"] == at(0)
    assert ours["processed_at"] == at(2) and ours["pending_at"] == at(5)
    assert ours["seconds_to_delivered"] == 30 and ours["seconds_to_read"] == 90
    assert ours["final_status"] == "read"
    assert theirs["sent_at"] is None and theirs["final_status"] == "error"
    [command] = query(tmp_path, "select * from core.commands")
    assert command["status"] == "accepted" and command["replied_at"] == at(1)


def test_getio_commands_get_their_reply(tmp_path: Path) -> None:
    commands = [{"uid": UID, "command": "getio", "command_id": "Q1", "sent_at": at(0),
                 "status": "sent", "seq": 0},
                {"uid": UID, "command": "getio", "command_id": "Q2", "sent_at": at(100),
                 "status": "sent", "seq": 0}]
    replies = [{"uid": UID, "reply_type": "cmd-status", "command_id": "Q1", "status": True,
                "received_at": at(1), "seq": 0},
               {"uid": UID, "reply_type": "cmd-parsed", "command": "getio",
                "received_at": at(3), "seq": 0},
               {"uid": UID, "reply_type": "cmd-status", "command_id": "Q2", "status": False,
                "received_at": at(101), "seq": 0}]
    write(tmp_path, commands=commands, command_replies=replies)
    build(tmp_path)
    rows = query(tmp_path, "select command_id, status, replied_at from core.commands "
                           "order by sent_at")
    assert rows == [{"command_id": "Q1", "status": "replied", "replied_at": at(3)},
                    {"command_id": "Q2", "status": "rejected", "replied_at": at(101)}]


def test_event_latency_measures_device_server_and_pipeline_delays(tmp_path: Path) -> None:
    events = [{"event_id": "E1", "uid": UID, "vid": VID, "sub_type": "event", "tmx": at(0),
               "rmx": at(8), "received_at": at(9.5), "seq": 0}]
    forms = [{"form_id": "F1", "uid": UID, "tmx": at(0), "rmx": at(34), "received_at": at(35),
              "eid": 33, "seq": 0}]
    messages = [{"uid": UID, "kind": "free", "text": "hello", "tmx": at(0), "rmx": at(1),
                 "received_at": at(3), "eid": 3951, "seq": 0}]
    write(tmp_path, events=events, forms=forms, driver_messages=messages)
    build(tmp_path)
    rows = {r["kind"]: r for r in query(tmp_path, "select * from marts.event_latency")}
    assert rows["event"]["device_to_server_s"] == 8
    assert rows["event"]["server_to_pipeline_s"] == 1.5
    assert rows["form"]["device_to_server_s"] == 34
    assert rows["driver_message"]["server_to_pipeline_s"] == 2


def test_vehicle_daily_counts_local_days(tmp_path: Path) -> None:
    # a drive at 23:30 UTC on 1 March is on 2 March in Asia/Tokyo (UTC+9)
    start = (at(0).replace(hour=23, minute=30) - at(0)).total_seconds() - 86400
    rows = drive(VID, start, 600, odometer0=0) + parked(VID, start + 630, 900, at_m=6000,
                                                         odometer=6000)
    for tz, day in (("UTC", "2026-03-01"), ("Asia/Tokyo", "2026-03-02")):
        write(tmp_path / tz, records=rows)
        build(tmp_path / tz, WarehouseConfig(timezone=tz))
        [daily] = query(tmp_path / tz, "select * from marts.vehicle_daily")
        assert str(daily["day"]) == day
        assert daily["trips"] == 1 and daily["distance_km"] == pytest.approx(6.0)
        assert daily["driving_s"] == 630 and daily["max_speed_kmh"] == 36
