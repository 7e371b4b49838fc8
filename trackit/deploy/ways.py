"""The three ways of running Airflow of docs/deploy.md, on this machine.

* ``laptop``: ``airflow standalone`` (every component in one terminal, a login printed).
* ``server``: the components one server runs, each its own process as a service manager
  would run them: ``airflow scheduler`` (LocalExecutor: the tasks run on this machine),
  ``airflow dag-processor`` and ``airflow api-server`` (the UI, the REST API and the
  Execution API the tasks report to); SQLite in AIRFLOW_HOME or a PostgreSQL database.
* ``celery``: the many-machine setup folded onto one machine for trying it: PostgreSQL
  (metadata database and Celery's result backend) and Redis (the broker) on loopback,
  the server's components with the CeleryExecutor, and ``--workers`` Celery workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from lake.errors import TrackitError
from trackit.deploy.airflow_settings import (
    CELERY_EXECUTOR,
    AirflowSetup,
    airflow_argv,
)
from trackit.deploy.local_servers import (
    port_open,
    postgres_can_use,
    running_postgres,
    running_redis,
)
from trackit.deploy.supervisor import Component, Supervisor

READY_TIMEOUT = 300.0  # seconds for the components to report healthy (a busy 2-core box)
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"


def say(message: str) -> None:
    print(f"airflow: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class CeleryOptions:
    """What the Celery way adds: workers, and where PostgreSQL and Redis live."""

    workers: int = 2
    concurrency: int = 2
    postgres_dir: Path | None = None  # None: AIRFLOW_HOME/postgres (see cluster_folder)
    postgres_port: int = 5433
    redis_port: int = 6380


def run_laptop(setup: AirflowSetup) -> None:
    """Replace this process with ``airflow standalone``."""
    check_port_free(setup)
    setup.home.mkdir(parents=True, exist_ok=True)
    say(f"airflow standalone, AIRFLOW_HOME={setup.home}, data {setup.data_dir}; UI on "
        f"{setup.api_url} (its login is printed below); Ctrl-C stops it")
    argv = airflow_argv("standalone")
    os.execve(argv[0], argv, setup.environment())


def run_server(setup: AirflowSetup) -> None:
    """The scheduler, dag-processor and api-server until a stop signal."""
    with ExitStack() as stack:
        supervisor = Supervisor(cwd=setup.home)
        supervisor.watch_signals()
        stack.callback(supervisor.stop_all)
        env = setup.environment()
        migrate(setup, env)
        start_core_components(supervisor, setup, env)
        wait_ready(supervisor, setup)
        say_ready(setup)
        supervisor.wait()
        say("stopping")


def run_celery(setup: AirflowSetup, options: CeleryOptions) -> None:
    """PostgreSQL, Redis, the core components and the Celery workers until a stop."""
    setup.home.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        supervisor = Supervisor(cwd=setup.home)
        supervisor.watch_signals()
        cluster = options.postgres_dir or cluster_folder(setup.home)
        say(f"starting PostgreSQL on 127.0.0.1:{options.postgres_port} ({cluster})")
        postgres = stack.enter_context(running_postgres(
            cluster, port=options.postgres_port, log=setup.home / "logs" / "postgres.log"))
        say(f"starting Redis on 127.0.0.1:{options.redis_port}")
        redis = stack.enter_context(running_redis(
            setup.home / "redis", port=options.redis_port,
            log=setup.home / "logs" / "redis.log"))
        stack.callback(supervisor.stop_all)  # the components stop before the servers
        setup = AirflowSetup(
            home=setup.home, data_dir=setup.data_dir, executor=CELERY_EXECUTOR,
            database_url=postgres.url(), api_host=setup.api_host, api_port=setup.api_port,
            celery={"AIRFLOW__CELERY__BROKER_URL": redis.url(),
                    "AIRFLOW__CELERY__RESULT_BACKEND": postgres.url("db+postgresql+psycopg2"),
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(options.concurrency)})
        env = setup.environment()
        migrate(setup, env)
        start_core_components(supervisor, setup, env)
        for number in range(1, options.workers + 1):
            name = f"worker-{number}"
            supervisor.start(Component(
                f"celery {name}",
                airflow_argv("celery", "worker", "--celery-hostname", f"{name}@%h",
                             "--concurrency", str(options.concurrency), "--skip-serve-logs"),
                env, component_log(setup, f"celery-{name}")))
        wait_ready(supervisor, setup)
        say_ready(setup, f"{options.workers} Celery workers (Redis {redis.url()}, "
                         f"PostgreSQL {postgres.url()})")
        supervisor.wait()
        say("stopping")


def cluster_folder(home: Path) -> Path:
    """AIRFLOW_HOME/postgres, unless PostgreSQL runs as another user (this is root) that
    cannot reach it: then a folder of that user's home, one per AIRFLOW_HOME."""
    preferred = home / "postgres"
    if os.geteuid() != 0 or (preferred / "PG_VERSION").is_file():
        return preferred
    owner = pwd.getpwnam("postgres") if _has_user("postgres") else None
    preferred.mkdir(parents=True, exist_ok=True)
    if owner is None:
        return preferred  # running_postgres installs PostgreSQL, then says what is wrong
    os.chown(preferred, owner.pw_uid, owner.pw_gid)
    if postgres_can_use(preferred):
        return preferred
    preferred.rmdir()
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
    fallback = Path(owner.pw_dir) / "trackit" / digest
    fallback.parent.mkdir(parents=True, exist_ok=True)
    os.chown(fallback.parent, owner.pw_uid, owner.pw_gid)
    say(f"the postgres user cannot reach {preferred}: the cluster lives in {fallback}")
    return fallback


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def component_log(setup: AirflowSetup, name: str) -> Path:
    return setup.home / "logs" / "components" / f"{name}.log"


def check_port_free(setup: AirflowSetup) -> None:
    if port_open(setup.api_port):
        raise TrackitError(f"port {setup.api_port} is taken (another Airflow?): stop it or "
                           "choose another with --port")


def migrate(setup: AirflowSetup, env: dict[str, str]) -> None:
    """``airflow db migrate``: creates or upgrades the metadata database (idempotent)."""
    check_port_free(setup)
    setup.home.mkdir(parents=True, exist_ok=True)
    log = component_log(setup, "db-migrate")
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"airflow db migrate ({setup.sqlalchemy_url}; log {log})")
    started = time.monotonic()
    with log.open("ab") as out:
        done = subprocess.run(airflow_argv("db", "migrate"), env=env, cwd=setup.home,
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise TrackitError(f"airflow db migrate failed: see {log}")
    say(f"metadata database ready in {time.monotonic() - started:.0f} s")


def start_core_components(supervisor: Supervisor, setup: AirflowSetup,
                          env: dict[str, str]) -> None:
    """The api-server first (tasks report to its Execution API: a task started before it
    listens fails), then the dag-processor and the scheduler."""
    for name, argv in (
        ("api-server", airflow_argv("api-server")),
        ("dag-processor", airflow_argv("dag-processor")),
        # the task logs are files of AIRFLOW_HOME on this machine: no log server needed
        ("scheduler", airflow_argv("scheduler", "--skip-serve-logs")),
    ):
        process = supervisor.start(Component(name, argv, env, component_log(setup, name)))
        say(f"{name} started (pid {process.pid}, log {component_log(setup, name)})")
        if name == "api-server":
            wait_ready(supervisor, setup, needed=())


def health(setup: AirflowSetup) -> dict[str, str]:
    """Component → status of the api-server's health endpoint ({} while it is down)."""
    try:
        with urllib.request.urlopen(f"{setup.api_url}/api/v2/monitor/health",
                                    timeout=5) as response:
            body = json.load(response)
    except (OSError, ValueError, urllib.error.URLError):
        return {}
    return {name: (status or {}).get("status") or "" for name, status in body.items()}


def wait_ready(supervisor: Supervisor, setup: AirflowSetup,
               needed: tuple[str, ...] = ("metadatabase", "scheduler", "dag_processor")
               ) -> None:
    """Until the api-server answers and reports ``needed`` healthy; raise if a component
    dies first."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not supervisor.stop_asked.is_set():
        status = health(setup)
        if status and all(status.get(name) == "healthy" for name in needed):
            return
        if time.monotonic() > deadline:
            raise TrackitError(f"Airflow was not healthy within {READY_TIMEOUT:.0f} s "
                               f"({status or 'api-server not answering'}): see the logs in "
                               f"{setup.home / 'logs' / 'components'}")
        supervisor.sleep(1.0)


def say_ready(setup: AirflowSetup, extra: str = "") -> None:
    passwords = setup.home / PASSWORD_FILE
    login = (f"user admin, password in {passwords}" if passwords.is_file()
             else "login as configured")
    say(f"ready: UI and API on {setup.api_url} ({login}); executor {setup.executor}"
        + (f", {extra}" if extra else "") + f"; data {setup.data_dir}")
    say("trackit_warehouse runs every 15 minutes (trigger a run from the UI); Ctrl-C "
        "stops everything")
