"""Fixtures of the report tests.

By default every test runs against the known warehouse of ``report_warehouse_fixture``.
To run the tests that compare the report with the marts against a real data directory
(the demo's, say), set ``TRACKIT_REPORT_TEST_DATA=DIR`` (its warehouse is only read) and
optionally ``TRACKIT_REPORT_TEST_DAY=YYYY-MM-DD`` (default: the day with the most trips);
the tests that check hand-made figures keep using the known warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from report_warehouse_fixture import REPORT_DAY, build_known_warehouse

from lake.ducklake import open_warehouse

DATA_ENV = "TRACKIT_REPORT_TEST_DATA"
DAY_ENV = "TRACKIT_REPORT_TEST_DAY"


@pytest.fixture(scope="session")
def known_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose warehouse holds the known rows (do not modify)."""
    return build_known_warehouse(tmp_path_factory.mktemp("report-data"))


@pytest.fixture(scope="session")
def data_dir_under_test(known_data_dir: Path) -> Path:
    """``$TRACKIT_REPORT_TEST_DATA`` when set, else the known data directory."""
    chosen = os.environ.get(DATA_ENV)
    return Path(chosen) if chosen else known_data_dir


@pytest.fixture(scope="session")
def day_under_test(data_dir_under_test: Path, known_data_dir: Path) -> date:
    """``$TRACKIT_REPORT_TEST_DAY``, the known report day, or a real warehouse's busiest day."""
    if os.environ.get(DAY_ENV):
        return date.fromisoformat(os.environ[DAY_ENV])
    if data_dir_under_test == known_data_dir:
        return REPORT_DAY
    con = open_warehouse(data_dir_under_test, read_only=True)
    try:
        row = con.execute("SELECT day FROM marts.vehicle_daily GROUP BY day "
                          "ORDER BY sum(trips) DESC, day DESC LIMIT 1").fetchone()
    finally:
        con.close()
    assert row, f"the warehouse of {data_dir_under_test} has no rows in marts.vehicle_daily"
    return row[0]


@pytest.fixture
def make_data_dir(tmp_path: Path) -> Callable[..., Path]:
    """Build a private data directory with the known warehouse, that a test may change."""
    def make(with_rows: bool = True, with_optional_marts: bool = True) -> Path:
        return build_known_warehouse(tmp_path / "data", with_rows=with_rows,
                                     with_optional_marts=with_optional_marts)
    return make
