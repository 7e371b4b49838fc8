"""The shortcuts of the data path never change a result.

Unknown keys are detected by the rows query's key listing (``_check``) before the key-by-key
comparison (``transforms.route_sql``). Text that looks like a key or a type inside a string
value, whitespace around colons, JSON nulls, duplicate keys and unknown keys holding null
must give exactly the rows the key-by-key comparison gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RawWriter, read_table

from transforms.pipeline import transform_lake


def records(last: dict[str, object], **top: object) -> dict[str, object]:
    record = {"tmx": "2022-04-02T10:00:00Z", "vid": 5, "loc": {"lat": 1.0, "lon": 2.0},
              "gsp": 10, "exd": {"io": {"1": 1}}, **last}
    return {"uid": 1, **top, "params": {"type": "records", "total": 1, "lastRecord": record}}


def load_one_record(write_raw: RawWriter, data_dir: Path, frame: str) -> dict[str, object]:
    """Load ``frame`` (a records frame) and return its row."""
    write_raw([frame])
    summary = transform_lake(data_dir)
    assert summary.reconciles and summary.loaded_frames == 1
    return read_table(data_dir, "records").row(0, named=True)


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": "), (" , ", " : "),
                                        (",\n", "\t:\n")],
                         ids=["compact", "spaced", "space before colon", "tab and newline"])
def test_whitespace_around_colons_changes_nothing(
        data_dir: Path, write_raw: RawWriter, separators: tuple[str, str]) -> None:
    frame = json.dumps(records({"hdg": 90}, region="eu"), separators=separators)
    row = load_one_record(write_raw, data_dir, frame)
    assert json.loads(str(row["extra"])) == {"region": "eu"}
    assert row["heading"] == 90.0 and row["vid"] == 5


@pytest.mark.parametrize("text", [
    '"hidden":1', '\\":', '","x":"', '":null', "\":\":\":", '"}',
], ids=["key-like", "escaped quote colon", "closing and opening", "null-like",
        "many colons", "brace"])
def test_key_like_text_in_a_string_value_is_only_text(
        data_dir: Path, write_raw: RawWriter, text: str) -> None:
    frame = json.dumps(records({"exd": {"eco": {"dcl": text}, "io": {"1": 1}}}))
    row = load_one_record(write_raw, data_dir, frame)
    assert row["driver_card"] == text
    assert row["extra"] is None


def test_a_missing_known_key_cannot_hide_an_unknown_key(data_dir: Path,
                                                        write_raw: RawWriter) -> None:
    # An unknown key plus a missing known key: the number of keys is as expected.
    frame = json.dumps(records({"gsp": None, "newField": "x", "exd": {"io": {"1": 1}}}))
    frame = frame.replace('"gsp": null, ', "")
    row = load_one_record(write_raw, data_dir, frame)
    assert json.loads(str(row["extra"])) == {"params.lastRecord.newField": "x"}


def test_an_unknown_key_holding_null_is_kept(data_dir: Path, write_raw: RawWriter) -> None:
    row = load_one_record(write_raw, data_dir, json.dumps(records({"newField": None})))
    assert json.loads(str(row["extra"])) == {"params.lastRecord.newField": None}


def test_a_duplicate_key_is_not_an_unknown_key(data_dir: Path, write_raw: RawWriter) -> None:
    frame = json.dumps(records({})).replace('"vid": 5', '"vid": 5, "vid": 5')
    row = load_one_record(write_raw, data_dir, frame)
    assert row["vid"] == 5 and row["extra"] is None


def test_a_value_inside_a_map_value_is_not_a_known_key(data_dir: Path,
                                                        write_raw: RawWriter) -> None:
    frame = json.dumps(records({"exd": {"io": {"1": 1, "2": {"vid": 3}}}}))
    write_raw([frame])
    summary = transform_lake(data_dir)
    assert summary.reconciles and summary.quarantined_frames == 1
    reason = read_table(data_dir, "quarantine")["reason"][0]
    assert "params.lastRecord.exd.io: an entry has a key or value of the wrong type" in reason


def test_a_type_key_elsewhere_does_not_change_the_route(data_dir: Path,
                                                       write_raw: RawWriter) -> None:
    # The first "type" in the text is not params.type: the route comes from the parse.
    frame = json.dumps({"a": {"type": "event", "sub-type": "io"}, **records({})})
    write_raw([frame, json.dumps(records({"vid": 6}))])
    summary = transform_lake(data_dir)
    assert summary.reconciles and summary.loaded_frames == 2
    records_table = read_table(data_dir, "records")
    assert sorted(records_table["vid"]) == [5, 6]
    extras = [json.loads(e) for e in records_table["extra"] if e is not None]
    assert extras[0]["a"] == {"type": "event", "sub-type": "io"}


def test_an_escaped_key_is_the_same_key(data_dir: Path, write_raw: RawWriter) -> None:
    # "type" written with an escape: the text does not hold "type", the parse finds it.
    frame = json.dumps(records({})).replace('"type"', '"typ\\u0065"')
    row = load_one_record(write_raw, data_dir, frame)
    assert row["vid"] == 5 and row["extra"] is None


def test_null_known_fields_load_as_null_without_extra(data_dir: Path,
                                                      write_raw: RawWriter) -> None:
    frame = json.dumps(records({"gsp": None, "hdg": None, "exd": {"io": {"1": 1},
                                                                  "eco": {"dcl": None}}}))
    row = load_one_record(write_raw, data_dir, frame)
    assert row["speed_kmh"] is None and row["heading"] is None and row["driver_card"] is None
    assert row["extra"] is None


def test_a_null_text_field_beside_an_unknown_null_key(data_dir: Path,
                                                      write_raw: RawWriter) -> None:
    frame = json.dumps(records({"_id": None, "newField": None}))
    row = load_one_record(write_raw, data_dir, frame)
    assert row["record_id"] is None
    assert json.loads(str(row["extra"])) == {"params.lastRecord.newField": None}


@pytest.mark.parametrize(("value", "expected"), [(123, "123"), ({"a": 1}, '{"a":1}'),
                                                 ("0001", "0001")])
def test_a_text_field_takes_any_value_as_text(data_dir: Path, write_raw: RawWriter,
                                              value: object, expected: str) -> None:
    frame = json.dumps(records({"exd": {"eco": {"dcl": value}, "io": {"1": 1}}}))
    row = load_one_record(write_raw, data_dir, frame)
    assert row["driver_card"] == expected and row["extra"] is None
