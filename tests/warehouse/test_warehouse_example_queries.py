"""The analysts' example queries (warehouse/example_queries.sql) run on a real warehouse."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import duckdb

from lake.layout import DataLayout
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse


def test_every_example_query_runs_read_only_and_returns_rows(simulated_data: Path) -> None:
    transform_lake(simulated_data)
    build_warehouse(simulated_data)
    sql = files("warehouse").joinpath("example_queries.sql").read_text()
    con = duckdb.connect(str(DataLayout(simulated_data).warehouse), read_only=True)
    try:
        statements = con.extract_statements(sql)
        assert len(statements) == 10
        for statement in statements:
            rows = con.execute(statement.query).fetchall()
            assert rows, statement.query
    finally:
        con.close()
