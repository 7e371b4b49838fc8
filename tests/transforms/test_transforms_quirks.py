"""The manual's quirks, handled deliberately (see docs/transforms.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import RawWriter, read_table

from transforms.pipeline import transform_lake


def records_frame(tmx: str, gkm: int = 1000, dcl: object = "0000001993887010") -> str:
    return json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": tmx, "vid": 3, "gkm": gkm, "exd": {"eco": {"dcl": dcl}}}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-04-02T06:47:07Z", datetime(2022, 4, 2, 6, 47, 7, tzinfo=UTC)),
        ("2022-04-02T06:47:07", datetime(2022, 4, 2, 6, 47, 7, tzinfo=UTC)),
        ("2022-04-02T06:47:07.0", datetime(2022, 4, 2, 6, 47, 7, tzinfo=UTC)),
        ("2022-04-02T06:47:07.5Z", datetime(2022, 4, 2, 6, 47, 7, 500000, tzinfo=UTC)),
        ("2022-04-02T06:47:07.57", datetime(2022, 4, 2, 6, 47, 7, 570000, tzinfo=UTC)),
        ("2022-04-02T06:47:07.574Z", datetime(2022, 4, 2, 6, 47, 7, 574000, tzinfo=UTC)),
        ("2022-04-02T07:47:07.574+01:00", datetime(2022, 4, 2, 6, 47, 7, 574000, tzinfo=UTC)),
    ],
)
def test_timestamps_with_or_without_zone_and_fractions(
        data_dir: Path, write_raw: RawWriter, text: str, expected: datetime) -> None:
    write_raw([records_frame(text)])
    transform_lake(data_dir)
    assert read_table(data_dir, "records")["tmx"].to_list() == [expected]


def test_odometer_minus_one_is_unknown_and_driver_card_keeps_zeros(
        data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([records_frame("2022-04-02T06:47:07Z", gkm=-1)])
    transform_lake(data_dir)
    row = read_table(data_dir, "records").row(0, named=True)
    assert row["odometer"] is None
    assert row["driver_card"] == "0000001993887010"


def test_a_negative_odometer_other_than_minus_one_is_quarantined(
        data_dir: Path, write_raw: RawWriter) -> None:
    write_raw([records_frame("2022-04-02T06:47:07Z", gkm=-5)])
    summary = transform_lake(data_dir)
    assert summary.quarantined == {"validate:records": 1}
    assert "records.odometer = -5 fails" in read_table(data_dir, "quarantine")["reason"][0]


def test_service_generic_accepts_lng_or_lon(data_dir: Path, write_raw: RawWriter) -> None:
    def service(event_id: str, loc: dict) -> str:
        return json.dumps({"uid": 1, "params": {"type": "service-generic", "event": {
            "_id": event_id, "tmx": "2022-04-02T05:47:07.000Z", "vid": 1, "loc": loc,
            "exd": {"type": "service-generic", "evt": {"id": "s", "delivered": False}}}}})
    write_raw([service("a", {"lat": 41.2, "lng": 1.2}), service("b", {"lat": 41.2, "lon": 1.3})])
    transform_lake(data_dir)
    services = read_table(data_dir, "services").sort("service_event_id")
    assert services["lon"].to_list() == [1.2, 1.3]
    assert services["extra"].to_list() == [None, None]
