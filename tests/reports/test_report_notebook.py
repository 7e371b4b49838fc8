"""notebooks/explore.ipynb runs top to bottom against a real warehouse and answers the ten
daily questions, one section each.

Executed with nbclient in a real Jupyter kernel (the ``python3`` kernel spec, which
jupyter_client starts with this interpreter) with ``TRACKIT_DATA`` pointing at the data
directory under test: by default a warehouse of the simulated fleet (``demo_like_fleet``:
a night, idling, a speeder, a long silence, shared drivers, named places, a message), where
every section must show a table with rows; with ``TRACKIT_REPORT_TEST_DATA=DIR`` (the demo
end-to-end test) that directory's warehouse, where every section must show a table or say
that there is nothing to show (a short demo may hold no night or no silence). An open
notebook lets a build commit, and its next query sees what the build wrote.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from demo_like_fleet import build_demo_like_data
from nbclient import NotebookClient

from lake.ducklake import writing_warehouse
from lake.errors import TrackitError

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"
QUESTIONS = range(1, 11)
DATA_ENV = "TRACKIT_REPORT_TEST_DATA"
SHAPE = re.compile(r"^shape: \((\d+), (\d+)\)")


@pytest.fixture(scope="module")
def notebook_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """The data directory to run the notebook on, and whether every answer must have rows."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]), False
    return build_demo_like_data(tmp_path_factory.mktemp("fleet")), True


@pytest.fixture(scope="module")
def executed(notebook_data: tuple[Path, bool], tmp_path_factory: pytest.TempPathFactory
             ) -> nbformat.NotebookNode:
    data_dir, _ = notebook_data
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("TRACKIT_DATA", str(data_dir))
        monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={
            "metadata": {"path": str(tmp_path_factory.mktemp("notebook-cwd"))}})
        client.execute()
    return nb


def outputs_of(cells: list[nbformat.NotebookNode], output_type: str) -> list[dict]:
    return [o for cell in cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == output_type]


def sections(nb: nbformat.NotebookNode) -> dict[int, list[nbformat.NotebookNode]]:
    """The cells of each ``## N. question`` section, by N."""
    found: dict[int, list[nbformat.NotebookNode]] = {}
    current: list[nbformat.NotebookNode] | None = None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            number = re.match(r"## (\d+)\. ", cell.source)
            current = found.setdefault(int(number.group(1)), []) if number else None
        elif current is not None:
            current.append(cell)
    return found


def table_rows(cells: list[nbformat.NotebookNode]) -> list[int]:
    """The row counts of the polars tables the cells displayed."""
    rows = []
    for output in outputs_of(cells, "execute_result") + outputs_of(cells, "display_data"):
        data = output.get("data", {})
        shape = SHAPE.match("".join(data.get("text/plain", "")))
        if shape and "text/html" in data:
            rows.append(int(shape.group(1)))
    return rows


def test_notebook_runs_top_to_bottom(executed: nbformat.NotebookNode,
                                     notebook_data: tuple[Path, bool]) -> None:
    data_dir, _ = notebook_data
    errors = outputs_of(executed.cells, "error")
    assert errors == [], [f"{e['ename']}: {e['evalue']}" for e in errors]
    stdout = "".join(o.get("text", "") for o in outputs_of(executed.cells, "stream"))
    assert f"connected read-only to {data_dir.resolve()}" in stdout
    assert "local days and nights in " in stdout


def test_notebook_answers_each_question_in_its_own_section(
        executed: nbformat.NotebookNode, notebook_data: tuple[Path, bool]) -> None:
    _, every_answer_has_rows = notebook_data
    by_question = sections(executed)
    assert sorted(by_question) == list(QUESTIONS)
    for number, cells in by_question.items():
        rows = table_rows(cells)
        assert rows, f"section {number} shows no table"
        if every_answer_has_rows:
            assert max(rows) > 0, f"section {number} answered with empty tables only"


def test_notebook_draws_its_charts(executed: nbformat.NotebookNode,
                                   notebook_data: tuple[Path, bool]) -> None:
    _, every_answer_has_rows = notebook_data
    if not every_answer_has_rows:
        pytest.skip("the charts are counted on the simulated fleet, where every one has data")
    charted = [number for number, cells in sections(executed).items()
               if any("image/png" in o.get("data", {})
                      for o in outputs_of(cells, "display_data"))]
    # distance, idle, positions, night, message latency, trip ends
    assert charted == [1, 2, 6, 7, 8, 10]


def test_notebook_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")


def test_notebook_says_clearly_when_there_is_no_warehouse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first code cell connects; run its code as it is, without starting a kernel.
    monkeypatch.setenv("TRACKIT_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    connect_cell = next(c for c in nb.cells if c.cell_type == "code")
    with pytest.raises(TrackitError, match=r"no warehouse at .*no-data/warehouse/catalog\.sqlite "
                       r"yet: run `trackit transform` and `trackit build`"):
        exec(compile(connect_cell.source, "explore.ipynb[connect]", "exec"), {})


def test_an_open_notebook_lets_a_build_commit_and_sees_it(
        make_data_dir: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_data_dir()
    monkeypatch.setenv("TRACKIT_DATA", str(data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    count = nbformat.v4.new_code_cell('q("select count(*) as trips from marts.trips")')
    nb.cells.append(count)
    client = NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for index in code[:4]:  # connect, helpers, what is in the warehouse
            client.execute_cell(nb.cells[index], index)
        # a build's commit while the notebook holds its connection open
        with writing_warehouse(data, wait_s=5) as writer:
            writer.execute("insert into marts.trips select * replace ('T9' as trip_id) "
                           "from marts.trips where trip_id = 'T1'")
        client.execute_cell(count, len(nb.cells) - 1)
    assert outputs_of(nb.cells, "error") == []
    shown = "".join(outputs_of([count], "execute_result")[0]["data"]["text/plain"])
    assert SHAPE.match(shown) and "│ 6     │" in shown, shown
