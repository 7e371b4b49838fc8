"""The analysts' example queries (warehouse/example_queries.sql) and README.md's ten daily
questions run read-only on a real warehouse of the simulated fleet and all return rows."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import duckdb
import pytest
from demo_like_fleet import build_demo_like_data

from lake.ducklake import open_warehouse

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def demo_like_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of a warehouse built as ``trackit demo`` builds it."""
    return build_demo_like_data(tmp_path_factory.mktemp("fleet"))


def readme_queries() -> str:
    text = README.read_text(encoding="utf-8")
    querying = text.split("## Querying", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in querying.split("```sql\n")[1:]]
    assert len(blocks) == 1, "README's Querying section has one ```sql block"
    return blocks[0]


def numbered_statements(con: duckdb.DuckDBPyConnection, sql: str) -> dict[int, str]:
    """The one statement under each ``-- N. what it answers`` comment, by N."""
    parts = re.split(r"^-- (\d+)\. .*$", sql, flags=re.MULTILINE)
    numbered = {}
    for number, body in zip(parts[1::2], parts[2::2], strict=True):
        statements = con.extract_statements(body)
        assert len(statements) == 1, f"-- {number}. holds {len(statements)} statements"
        numbered[int(number)] = statements[0].query
    return numbered


def test_readme_answers_the_ten_questions_with_rows(demo_like_warehouse: Path) -> None:
    con = open_warehouse(demo_like_warehouse, read_only=True)
    try:
        statements = numbered_statements(con, readme_queries())
        assert sorted(statements) == list(range(1, 11))
        for number, query in statements.items():
            assert con.execute(query).fetchall(), f"question {number} has no rows:\n{query}"
    finally:
        con.close()


def test_every_example_query_runs_read_only_and_returns_rows(
        demo_like_warehouse: Path) -> None:
    sql = files("warehouse").joinpath("example_queries.sql").read_text()
    con = open_warehouse(demo_like_warehouse, read_only=True)
    try:
        statements = numbered_statements(con, sql)
        assert sorted(statements) == list(range(1, len(statements) + 1))
        assert len(statements) >= 10
        for number, query in statements.items():
            assert con.execute(query).fetchall(), f"example {number} has no rows:\n{query}"
    finally:
        con.close()


def test_the_example_file_holds_readme_ten_queries_as_they_are() -> None:
    sql = files("warehouse").joinpath("example_queries.sql").read_text()
    assert readme_queries() in sql
