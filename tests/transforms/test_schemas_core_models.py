"""The pandera models: derived from schemas.core_tables, and they check the data."""

from __future__ import annotations

from datetime import UTC, datetime

import pandera.polars as pa
import polars as pl
import pytest

from schemas.core_models import core_model, polars_schema
from schemas.core_tables import CORE_TABLES


def records_row(**changes: object) -> pl.DataFrame:
    row: dict[str, object] = {c: None for c in CORE_TABLES["records"].column_names}
    row.update(vid=1, tmx=datetime(2022, 4, 2, tzinfo=UTC),
               received_at=datetime(2022, 4, 2, tzinfo=UTC), source="records", seq=1,
               lat=38.5, lon=-9.1, speed_kmh=41.0, heading=246.0)
    row.update(changes)
    return pl.DataFrame([row], schema=polars_schema("records"))


def test_every_core_table_has_a_model_with_its_columns() -> None:
    for name, table in CORE_TABLES.items():
        assert list(core_model(name).columns) == table.column_names


def test_a_good_row_passes() -> None:
    core_model("records").validate(records_row())


@pytest.mark.parametrize(
    ("changes", "column"),
    [({"lat": -90.5}, "lat"), ({"lon": 180.01}, "lon"), ({"speed_kmh": -0.1}, "speed_kmh"),
     ({"heading": 360.5}, "heading"), ({"vid": None}, "vid"), ({"tmx": None}, "tmx"),
     ({"source": "other"}, "source"), ({"odometer": -1}, "odometer")],
)
def test_bad_values_fail_on_their_column(changes: dict, column: str) -> None:
    with pytest.raises(pa.errors.SchemaErrors) as info:
        core_model("records").validate(records_row(**changes), lazy=True)
    assert info.value.failure_cases["column"].to_list() == [column]


def test_txs_must_be_0_to_5() -> None:
    row = {c: None for c in CORE_TABLES["message_status"].column_names}
    row.update(message_id="m", txs=6, status="read", seq=1,
               received_at=datetime(2022, 4, 2, tzinfo=UTC))
    df = pl.DataFrame([row], schema=polars_schema("message_status"))
    with pytest.raises(pa.errors.SchemaErrors):
        core_model("message_status").validate(df, lazy=True)
