"""The environment of an Airflow subprocess in the warehouse tests (own AIRFLOW_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
