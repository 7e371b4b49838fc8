"""``python -m trackit.deploy {laptop,server,celery}`` (``./run airflow ...``): Airflow
running the project's DAGs on this machine, one of the three ways of docs/deploy.md."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lake.errors import TrackitError
from lake.layout import data_layout
from trackit.deploy.airflow_settings import AirflowSetup
from trackit.deploy.ways import CeleryOptions, run_celery, run_laptop, run_server
from trackit.options import OneLineArgumentParser, bounded_int, positive_int

PORT = bounded_int(1, 65535)
WAYS = {
    "laptop": "airflow standalone: every component in one process tree, a login printed",
    "server": "one server: scheduler (LocalExecutor), dag-processor, api-server",
    "celery": "the CeleryExecutor on one machine: PostgreSQL, Redis, the server's "
              "components and --workers Celery workers",
}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="./run airflow",
        description="Run Airflow with the project's DAGs on this machine until Ctrl-C "
                    "(docs/deploy.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="ways:\n" + "\n".join(f"  {name:8} {text}" for name, text in WAYS.items()))
    parser.add_argument("way", choices=list(WAYS), help="laptop, server or celery")
    parser.add_argument("--data", default=None,
                        help="data directory, or s3://bucket/prefix for a lake on object "
                             "storage (default: $TRACKIT_DATA or ./data)")
    parser.add_argument("--home", type=Path, default=None,
                        help="AIRFLOW_HOME (default: DATA/airflow; DATA/airflow-celery for "
                             "celery)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address of the UI and API (default: 127.0.0.1; 0.0.0.0 for "
                             "every interface)")
    parser.add_argument("--port", type=PORT, default=8080,
                        help="port of the UI and API (default: 8080)")
    parser.add_argument("--database-url", default=None,
                        help="server: the metadata database's SQLAlchemy URL, e.g. "
                             "postgresql+psycopg2://airflow:PASSWORD@db-host/airflow "
                             "(default: SQLite in AIRFLOW_HOME)")
    celery = parser.add_argument_group("celery")
    celery.add_argument("--workers", type=positive_int, default=2,
                        help="Celery workers to start (default: 2)")
    celery.add_argument("--concurrency", type=positive_int, default=2,
                        help="tasks each worker runs at once (default: 2)")
    celery.add_argument("--postgres-port", type=PORT, default=5433,
                        help="PostgreSQL's port on 127.0.0.1 (default: 5433)")
    celery.add_argument("--postgres-dir", type=Path, default=None,
                        help="PostgreSQL's cluster folder (default: AIRFLOW_HOME/postgres)")
    celery.add_argument("--redis-port", type=PORT, default=6380,
                        help="Redis's port on 127.0.0.1 (default: 6380)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        layout = data_layout(args.data)
        data = layout.root.resolve()  # the local part: Airflow's home, state, locks
        home = (args.home or data / ("airflow-celery" if args.way == "celery" else "airflow"))
        if args.database_url and args.way != "server":
            raise TrackitError("--database-url is for the server way (celery starts its "
                               "own PostgreSQL; laptop uses SQLite)")
        data.mkdir(parents=True, exist_ok=True)
        setup = AirflowSetup(home=home.resolve(), data_dir=data,
                             remote=str(layout.remote) if layout.remote else None,
                             database_url=args.database_url, api_host=args.host,
                             api_port=args.port)
        if args.way == "laptop":
            run_laptop(setup)
        elif args.way == "server":
            run_server(setup)
        else:
            run_celery(setup, CeleryOptions(
                workers=args.workers, concurrency=args.concurrency,
                postgres_dir=args.postgres_dir.resolve() if args.postgres_dir else None,
                postgres_port=args.postgres_port, redis_port=args.redis_port))
    except TrackitError as exc:
        print(f"trackit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
