"""The environment of an Airflow subprocess in the tests: its own AIRFLOW_HOME, this repo's DAGs."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment of an Airflow subprocess using ``home`` and this repo's DAGs."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
        "TRACKIT_TZ": "",
        **extra,
    }
