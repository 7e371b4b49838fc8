"""The environment every Airflow component of one setup runs with: its settings as
``AIRFLOW__SECTION__KEY`` variables, the project's DAGs and packages, the data directory.

docs/deploy.md lists the same settings for machines set up by hand.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lake.errors import TrackitError

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
# The programs of the environment this runs in (.venv/bin): airflow, trackit, python.
VENV_BIN = Path(sys.executable).parent
LOCAL_EXECUTOR = "LocalExecutor"
CELERY_EXECUTOR = "CeleryExecutor"
# Settings the caller's environment may override; every other one is the setup's own.
OVERRIDABLE = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    # the DAGs run on their schedule as soon as the dag-processor has read them
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
}


@dataclass(frozen=True)
class AirflowSetup:
    """What differs between the ways of running Airflow on this machine."""

    home: Path
    data_dir: Path
    """The local data directory (with ``remote``: its local part, ``TRACKIT_LOCAL``)."""
    remote: str | None = None
    """``s3://bucket/prefix`` of a lake on object storage, else ``None``."""
    executor: str = LOCAL_EXECUTOR
    database_url: str | None = None  # None: SQLite in ``home``
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    celery: Mapping[str, str] = field(default_factory=dict)  # broker, result backend

    def __post_init__(self) -> None:
        if not DAGS_FOLDER.is_dir():
            raise TrackitError(f"no DAGs folder at {DAGS_FOLDER}: run this from a clone of "
                               "the repository (./run airflow ...)")

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'airflow.db'}"

    @property
    def api_url(self) -> str:
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    def settings(self) -> dict[str, str]:
        """The setup's own variables (what docs/deploy.md tells each machine to set)."""
        settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sqlalchemy_url,
            "AIRFLOW__API__HOST": self.api_host,
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "TRACKIT_DATA": self.remote or str(self.data_dir),
        }
        if self.remote:
            settings["TRACKIT_LOCAL"] = str(self.data_dir)
        if self.executor == CELERY_EXECUTOR:
            settings.update(self.celery)
        return settings

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the setup's settings, the
        project on PYTHONPATH (the DAGs import its packages) and .venv/bin first on PATH
        (``airflow standalone`` starts its parts as ``airflow`` by name)."""
        base = dict(os.environ if base is None else base)
        python_path = os.pathsep.join(filter(None, (str(REPO), base.get("PYTHONPATH"))))
        path = os.pathsep.join(filter(None, (str(VENV_BIN), base.get("PATH"))))
        return {**OVERRIDABLE, **base, **self.settings(), "PYTHONPATH": python_path,
                "PATH": path}


def airflow_argv(*args: str) -> list[str]:
    """argv of the ``airflow`` program of this environment."""
    program = VENV_BIN / "airflow"
    return [str(program), *args] if program.is_file() else [sys.executable, "-m", "airflow",
                                                              *args]
