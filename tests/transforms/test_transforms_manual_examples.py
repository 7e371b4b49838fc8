"""Every example of the manual, as printed (quirks included), gives the expected rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import manual_examples, read_table, write_raw_file

from transforms.pipeline import TransformSummary, transform_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TransformSummary]:
    data = tmp_path_factory.mktemp("manual") / "data"
    data.mkdir()
    write_raw_file(data, list(manual_examples().values()))
    return data, transform_lake(data)


def _one(data: Path, table: str, **where: object) -> dict:
    df = read_table(data, table)
    for column, value in where.items():
        df = df.filter(pl.col(column) == value)
    assert df.height == 1, (table, where, df)
    return df.row(0, named=True)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_every_example_lands_and_reconciles(lake: tuple[Path, TransformSummary]) -> None:
    data, summary = lake
    assert summary.reconciles
    assert summary.frames == len(manual_examples()) == 16
    assert summary.quarantined_frames == 0, read_table(data, "quarantine")
    assert summary.control_frames == 2  # the auth command and the auth reply
    assert summary.loaded_frames == 14


def test_records_example(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    row = _one(data, "records", vid=826403)
    assert row["tmx"] == ts("2022-04-02T09:50:03.574")
    assert (row["uid"], row["batch_total"], row["source"]) == (1001, 1, "records")
    assert (row["lat"], row["lon"]) == (38.5787133, -9.0127133)
    assert (row["speed_kmh"], row["heading"], row["odometer"]) == (41, 246, 1613709)
    assert (row["sat"], row["alt"], row["rpm"], row["fuel_level"], row["engine_hours"]) == (
        15, 42, 949, 100, 25237)
    assert row["driver_card"] == "0000001993887010"  # leading zeros kept
    assert row["extra"] is None
    io = read_table(data, "record_io").filter(pl.col("vid") == 826403).sort("io")
    assert io.select("io", "value").rows() == [(1, 1.0), (8, 1.0)]


def test_event_io_example(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    event = _one(data, "events", event_id="67ed0c4f0191a78e5aa92269")
    assert (event["record_id"], event["vid"], event["sub_type"]) == (
        "67ed0c4f0191a78e5aa92266", 823397, "io")
    assert (event["eid"], event["mid"], event["sts"]) == (3846, 1001, 1)
    assert event["rmx"] == ts("2022-04-02T10:07:11.398")
    assert (event["lat"], event["lon"]) == (41.2165983, 1.20606)
    assert (event["frc"], event["src"]) == ("(...), Espanha", "tlk-server")
    io_event = _one(data, "io_events", event_id="67ed0c4f0191a78e5aa92269")
    assert (io_event["io"], io_event["level"], io_event["vid"]) == (1, 0.0, 823397)
    record = _one(data, "records", vid=823397)
    assert (record["source"], record["record_id"], record["odometer"]) == (
        "event", "67ed0c4f0191a78e5aa92266", 398447)


def test_connection_examples(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    rows = read_table(data, "connections").sort("kind")
    assert rows.select("uid", "kind", "status").rows() == [
        (1001, "device", 1), (1001, "driver_app", 1)]


def test_driver_message_examples(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    free = _one(data, "driver_messages", kind="free")
    assert (free["text"], free["eid"], free["predefined_id"]) == (
        "text message sent by driver", 3951, None)
    assert free["tmx"] == ts("2022-04-02T10:24:42") and free["frc"] is None
    predefined = _one(data, "driver_messages", kind="predefined")
    assert (predefined["text"], predefined["predefined_id"], predefined["eid"]) == (
        "TRAFFIC", 1, 25106)


def test_form_example(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    form = _one(data, "forms", eid=33)
    assert form["form_name"] == "Form name" and len(form["form_id"]) == 32
    fields = read_table(data, "form_fields").sort("field")
    assert fields.select("field", "value").rows() == [
        ("...", "(some value)"), ("Client", "(some text)"), ("Local", "(some text)"),
        ("Work", "(some text)")]
    assert set(fields["form_id"]) == {form["form_id"]}


def test_message_status_examples(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    echo = _one(data, "message_status", txs=0)
    assert (echo["status"], echo["text"], echo["guid"]) == (
        "not_processed", "this is my message", "ZS8SYGKBXAI40T2ASQ3R3HW95")
    buffered = _one(data, "message_status", txs=1)
    assert (buffered["message_id"], buffered["status"]) == ("67ed11c70191a78e5aaae7d7",
                                                           "buffered")


def test_command_examples(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    getio = _one(data, "commands", command="getio")
    assert (getio["uid"], getio["command_id"], getio["status"]) == (
        1001, "ZS8SYGKBXAI40T2ASQ3R3HW95", "sent")
    # The manual's pnd-api example ends with stray closing braces: recovered.
    msg = _one(data, "commands", command="msg")
    assert (msg["text"], msg["command_id"]) == ("this is my message",
                                                "ZS8SYGKBXAI40T2ASQ3R3HW95")
    status = _one(data, "command_replies", reply_type="cmd-status")
    assert (status["command_id"], status["status"]) == ("ZS8SYGKBXAI40T2ASQ3R3HW95", True)
    parsed = _one(data, "command_replies", reply_type="cmd-parsed")
    assert parsed["command"] == "getio"
    snapshots = read_table(data, "io_snapshots").sort("io")
    assert snapshots.select("uid", "io", "level").rows() == [(1001, 1, 0.0), (1001, 2, 0.0)]
    assert set(snapshots["tmx"]) == {ts("2022-04-02T10:06:59.321")}


def test_service_generic_example(lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    row = _one(data, "services", service_event_id="67eccf5c4219b1b25e0aca0d")
    assert (row["lat"], row["lon"]) == (41.2165983, 1.20606)  # loc.lng
    assert row["odometer"] is None  # gkm -1
    assert (row["service_id"], row["delivered"], row["message"]) == (
        "67ec4295af04705c2e0000", True, "Delivered")
    assert row["service_tmx"] == ts("2022-04-02T06:47:07")  # no zone: UTC
    assert row["vid"] == 337145


def test_secrets_of_the_auth_command_are_stored_nowhere(
        lake: tuple[Path, TransformSummary]) -> None:
    data, _ = lake
    for path in (data / "core").rglob("*.parquet"):
        assert b"tjMzwqGgzNdDEyyswn3vZxFbWG" not in path.read_bytes()
    assert not (data / "quarantine").exists()
