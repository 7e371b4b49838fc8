"""notebooks/explore.ipynb runs top to bottom against a warehouse and draws its plots.

Executed with nbclient in a real Jupyter kernel (the ``python3`` kernel spec, which
jupyter_client starts with this interpreter) with ``TRACKIT_DATA`` pointing at the data
directory under test (the known fixture, or ``TRACKIT_REPORT_TEST_DATA``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"


def execute(data_dir: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
            ) -> nbformat.NotebookNode:
    monkeypatch.setenv("TRACKIT_DATA", str(data_dir))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def outputs_of(nb: nbformat.NotebookNode, output_type: str) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == output_type]


def test_notebook_runs_top_to_bottom_with_plots(data_dir_under_test: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    nb = execute(data_dir_under_test, tmp_path, monkeypatch)
    assert outputs_of(nb, "error") == []
    images = [o for o in outputs_of(nb, "display_data") if "image/png" in o.get("data", {})]
    tables = [o for o in outputs_of(nb, "execute_result") if "text/html" in o.get("data", {})]
    assert len(images) >= 4  # vehicles, start/end scatter, read latency, daily (+ I/O)
    assert len(tables) >= 8
    stdout = "".join(o.get("text", "") for o in outputs_of(nb, "stream"))
    assert f"connected read-only to {data_dir_under_test.resolve()}" in stdout


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
    with pytest.raises(FileNotFoundError, match=r"no warehouse at .*no-data/warehouse\.duckdb"):
        exec(compile(connect_cell.source, "explore.ipynb[connect]", "exec"), {})
