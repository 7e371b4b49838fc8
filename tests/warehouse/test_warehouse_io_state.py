"""io_changes holds changes only; io_state holds each input's value now and its first value."""

from __future__ import annotations

from pathlib import Path

from warehouse_handmade import (
    assert_checks_passed,
    at,
    build,
    build_in_slices,
    drive,
    ignition,
    mart_rows,
    query,
    trips,
    write,
)

VID, UID = 7, 1007


def io_row(seconds: float, io: int, value: float, *, received_s: float | None = None) -> dict:
    received = seconds + 2 if received_s is None else received_s
    return {"vid": VID, "uid": UID, "tmx": at(seconds), "io": io, "value": value,
            "received_at": at(received), "seq": 0}


def test_the_first_value_is_state_not_a_change(tmp_path: Path) -> None:
    rows = [io_row(0, 1, 0), io_row(60, 1, 0), io_row(120, 1, 1), io_row(300, 1, 1),
            io_row(0, 8, 1), io_row(60, 8, 1), io_row(600, 8, 1), io_row(30, 9, None)]
    write(tmp_path, record_io=rows)
    build(tmp_path)
    changes = query(tmp_path, "select io, changed_at, from_value, to_value, "
                              "previous_changed_at from marts.io_changes order by all")
    assert changes == [{"io": 1, "changed_at": at(120), "from_value": 0.0, "to_value": 1.0,
                        "previous_changed_at": at(0)}]
    state = query(tmp_path, "select * from marts.io_state order by io")
    assert [(s["io"], s["vid"], s["value"], s["since"], s["first_seen"], s["first_value"],
             s["last_read_at"], s["changes"]) for s in state] == [
        (1, VID, 1.0, at(120), at(0), 0.0, at(300), 1),
        (8, VID, 1.0, at(0), at(0), 1.0, at(600), 0),  # never changed: no row of io_changes
    ]
    assert_checks_passed(tmp_path)


def test_a_late_first_reading_moves_the_first_value_and_the_first_change(
        tmp_path: Path) -> None:
    on_time = [io_row(600, 1, 1), io_row(660, 1, 1), io_row(900, 1, 0)]
    late = [io_row(300, 1, 0, received_s=1000), io_row(360, 1, 1, received_s=1000)]
    write(tmp_path / "cut", record_io=on_time)
    build(tmp_path / "cut")
    [before] = query(tmp_path / "cut", "select * from marts.io_state")
    assert (before["first_seen"], before["first_value"], before["changes"]) == (at(600), 1, 1)
    write(tmp_path / "cut", record_io=late)
    build(tmp_path / "cut")
    [after] = query(tmp_path / "cut", "select * from marts.io_state")
    assert (after["first_seen"], after["first_value"], after["value"], after["since"],
            after["changes"]) == (at(300), 0.0, 0.0, at(900), 2)
    write(tmp_path / "whole", record_io=on_time + late)
    build(tmp_path / "whole")
    assert mart_rows(tmp_path / "cut") == mart_rows(tmp_path / "whole")
    assert_checks_passed(tmp_path / "cut")


def test_an_ignition_that_never_changes_still_decides_the_trip(tmp_path: Path) -> None:
    """The first value of the ignition is read from io_state: with it on from the first
    record and never switched off, the whole drive is one trip detected by ignition."""
    rows = drive(VID, 0, 600, odometer0=0, uid=UID)
    write(tmp_path, records=rows, record_io=[ignition(r, 1.0) for r in rows])
    build(tmp_path)
    assert query(tmp_path, "select count(*) as n from marts.io_changes") == [{"n": 0}]
    [trip] = trips(tmp_path)
    assert trip["detection"] == "ignition" and trip["start_time"] == at(0)
    assert trip["idle_s"] == 0


def test_io_state_and_changes_do_not_depend_on_how_data_was_cut(tmp_path: Path) -> None:
    rows = [io_row(60 * i, io, float((i // (3 + io)) % 2)) for i in range(60) for io in (1, 2)]
    rows += [io_row(60 * i, 8, 1.0) for i in range(0, 60, 7)]
    for i, row in enumerate(rows):  # a third of them uploaded 20 minutes late
        if i % 3 == 0:
            row["received_at"] += (at(1200) - at(0))
    build_in_slices(tmp_path / "cut", {"record_io": rows}, every_s=300)
    write(tmp_path / "whole", record_io=rows)
    build(tmp_path / "whole")
    whole = mart_rows(tmp_path / "whole", ("io_changes", "io_state"))
    assert len(whole["io_changes"]) > 10 and len(whole["io_state"]) == 3
    assert mart_rows(tmp_path / "cut", ("io_changes", "io_state")) == whole
