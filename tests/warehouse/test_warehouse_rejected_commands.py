"""A command the server refused by closing the socket (1007/1008/1009) right after it is
'rejected' in core.commands and marts.message_latency, whichever load brings the close."""

from __future__ import annotations

from pathlib import Path

from warehouse_handmade import at, build, query, write

UID = 1001


def command(guid: str, seconds: float, seq: int, connection: str = "c1",
            kind: str = "msg") -> dict:
    return {"uid": UID, "command": kind, "command_id": guid, "sent_at": at(seconds),
            "status": "sent", "text": "hi" if kind == "msg" else None,
            "connection_id": connection, "seq": seq}


def close(connection: str, seconds: float, seq: int, code: int) -> dict:
    return {"connection_id": connection, "received_at": at(seconds), "code": code,
            "reason": "message too big" if code == 1009 else None, "seq": seq}


def latency(data: Path) -> dict[str, tuple]:
    rows = query(data, "select guid, final_status, error_at from marts.message_latency")
    return {r["guid"]: (r["final_status"], r["error_at"]) for r in rows}


def statuses(data: Path) -> dict[str, tuple]:
    rows = query(data, "select command_id, status, replied_at from core.commands")
    return {r["command_id"]: (r["status"], r["replied_at"]) for r in rows}


def test_the_last_command_before_a_1009_close_is_rejected_even_when_the_close_loads_later(
    tmp_path: Path,
) -> None:
    write(tmp_path, commands=[command("OK1", 0, 5), command("BIG", 1, 7),
                                   command("OTHER", 1.2, 3, connection="c2")])
    build(tmp_path)
    assert latency(tmp_path)["BIG"] == ("sent", None)

    write(tmp_path, connection_closes=[close("c1", 1.5, 9, 1009),
                                            close("c2", 2, 4, 1000)])
    build(tmp_path)
    assert latency(tmp_path) == {"OK1": ("sent", None), "BIG": ("rejected", at(1.5)),
                                 "OTHER": ("sent", None)}
    assert statuses(tmp_path)["BIG"] == ("rejected", at(1.5))
    assert statuses(tmp_path)["OK1"] == ("sent", None)


def test_a_close_long_after_the_command_or_a_command_with_a_reply_is_not_a_rejection(
    tmp_path: Path,
) -> None:
    write(tmp_path,
          commands=[command("LATE", 0, 1), command("ANSWERED", 0.1, 1, connection="c2")],
          message_status=[{"uid": UID, "message_id": "M1", "txs": 0,
                           "status": "not_processed", "received_at": at(0.5),
                           "guid": "ANSWERED", "text": "hi", "seq": 2}],
          connection_closes=[close("c1", 60, 2, 1008), close("c2", 1, 3, 1009)])
    build(tmp_path)
    assert latency(tmp_path)["LATE"] == ("sent", None)
    assert latency(tmp_path)["ANSWERED"][0] == "not_processed"
    assert statuses(tmp_path)["ANSWERED"][0] == "accepted"


def test_a_getio_refused_with_1007_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, commands=[command("Q1", 0, 1, kind="getio")],
          connection_closes=[close("c1", 0.2, 2, 1007)])
    build(tmp_path)
    assert statuses(tmp_path)["Q1"] == ("rejected", at(0.2))


def test_a_warehouse_from_before_connection_ids_gets_the_column_and_still_builds(
        tmp_path: Path) -> None:
    from lake.ducklake import writing_warehouse

    write(tmp_path, commands=[command("OLD", 0, 1)])
    build(tmp_path)
    with writing_warehouse(tmp_path) as con:  # a warehouse of an older release
        con.execute("alter table core.commands drop column connection_id")
    build(tmp_path)  # nothing new: the build only adds the column back
    assert query(tmp_path, "select count(*) as n from information_schema.columns "
                           "where table_name = 'commands' and column_name = 'connection_id'"
                 ) == [{"n": 1}]
    write(tmp_path, commands=[command("NEW", 10, 3)],
          connection_closes=[close("c1", 10.5, 4, 1009)])
    build(tmp_path)
    assert statuses(tmp_path) == {"OLD": ("sent", None), "NEW": ("rejected", at(10.5))}
