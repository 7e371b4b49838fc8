"""Close frames received (raw ``close:<code> <reason>``) become core.connection_closes rows;
outbound commands carry the connection they were sent on."""

from __future__ import annotations

import json

from conftest import read_table

from transforms.pipeline import transform_lake

MESSAGE = json.dumps({"type": "pnd-api", "query": {"uid": 1001, "content": {
    "type": "msg", "txt": "hello", "guid": "G" * 25, "user_id": 1, "user_name": "x"}}})
RECORD = json.dumps({"uid": 1001, "params": {"type": "connection", "status": 1}})


def test_a_close_frame_is_a_row_of_connection_closes_and_commands_know_their_connection(
    data_dir, write_raw
):
    write_raw([RECORD, ("out", MESSAGE), "close:1009 frame exceeds limit of 4096 bytes"],
              seq0=10)
    summary = transform_lake(data_dir)
    assert summary.reconciles
    closes = read_table(data_dir, "connection_closes").sort("seq")
    assert closes.select("connection_id", "code", "reason", "seq").rows() == [
        ("conn-1", 1009, "frame exceeds limit of 4096 bytes", 12),
    ]
    commands = read_table(data_dir, "commands")
    assert commands.select("command_id", "connection_id").rows() == [("G" * 25, "conn-1")]
    assert read_table(data_dir, "quarantine").height == 0


def test_a_close_record_without_a_code_is_quarantined_and_an_outbound_close_is_not_one(
    data_dir, write_raw
):
    write_raw(["close:abc nonsense", ("out", "close:1000 ours"), "close:1000"])
    transform_lake(data_dir)
    closes = read_table(data_dir, "connection_closes")
    assert closes.select("code", "reason", "seq").rows() == [(1000, None, 2)]
    quarantine = read_table(data_dir, "quarantine").sort("seq")
    assert quarantine.get_column("frame").to_list() == ["close:abc nonsense", "close:1000 ours"]
    assert quarantine.get_column("stage").to_list()[0] == "validate:connection_closes"
