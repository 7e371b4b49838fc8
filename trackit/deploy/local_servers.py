"""PostgreSQL and Redis on loopback, each a child process that is stopped whatever happens.

The Celery way of docs/deploy.md runs both beside Airflow on the machine it is tried on;
the tests with real servers start them the same way. Their programs come from Debian's
packages (``postgresql``, ``redis-server``): a missing one is installed with ``apt-get``
when this runs as root on a machine that has it, else named in a one-line error.

PostgreSQL refuses to run as root, so as root its cluster belongs to, and its server runs
as, the ``postgres`` user that the Debian package creates. Both servers listen on
127.0.0.1 only, PostgreSQL also on a unix socket in its cluster folder; each runs in a
session of its own, so a Ctrl-C meant for Airflow reaches it only through ``stop``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lake.errors import TrackitError

LOOPBACK = "127.0.0.1"
POSTGRES_USER = "airflow"  # the cluster's superuser: trust authentication on loopback
UNIX_SOCKET_PATH_MAX = 107  # sun_path, less the terminating NUL


def free_port() -> int:
    """A TCP port of loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str,
               process: subprocess.Popen[bytes] | None = None, log: Path | None = None
               ) -> None:
    """Poll ``ready`` until it holds; fail naming ``what`` (and its log) on a timeout or
    when ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while not ready():
        where = f" (its log: {log})" if log else ""
        if process is not None and process.poll() is not None:
            raise TrackitError(f"{what} exited with status {process.returncode} while "
                               f"starting{where}")
        if time.monotonic() > deadline:
            raise TrackitError(f"{what} did not get ready within {timeout:.0f} s{where}")
        time.sleep(0.2)


def stop_process(process: subprocess.Popen[bytes], *, first: int = signal.SIGTERM,
                 grace: float = 30.0) -> None:
    """Send ``first``, wait up to ``grace`` seconds, then kill: the process is gone after."""
    if process.poll() is None:
        try:
            process.send_signal(first)
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass


# --- programs ---------------------------------------------------------------------------


def install_debian_package(package: str) -> None:
    """``apt-get install -y PACKAGE`` (after ``apt-get update`` if the lists are stale).

    Raises:
        TrackitError: this is not root on a machine with apt-get, or the install failed.
    """
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise TrackitError(f"the Debian package {package} is not installed: install it "
                           f"(apt-get install {package}) and try again")
    print(f"installing the Debian package {package} (apt-get install -y {package}) ...",
          file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, capture_output=True).returncode == 0:
        return
    subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TrackitError(f"apt-get install {package} failed: {last}")


def postgres_bin_dir(*, install: bool = True) -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``postgres``, ``psql``).

    ``pg_ctl`` on PATH (resolved through Debian's symlinks), else the newest
    ``/usr/lib/postgresql/*/bin``; when neither exists and ``install``, the Debian package
    ``postgresql`` is installed first.
    """
    def found() -> Path | None:
        on_path = shutil.which("pg_ctl")
        candidates = [Path(on_path).resolve().parent] if on_path else []
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                             key=lambda path: int(path.parent.name)
                             if path.parent.name.isdigit() else 0, reverse=True)
        return next((folder for folder in candidates
                     if all((folder / name).is_file() for name in ("initdb", "postgres"))),
                    None)

    folder = found()
    if folder is None and install:
        install_debian_package("postgresql")
        folder = found()
    if folder is None:
        raise TrackitError("PostgreSQL's server programs (initdb, postgres) were not found: "
                           "install the Debian package postgresql")
    return folder


def redis_server_program(*, install: bool = True) -> Path:
    """``redis-server``, installed from the Debian package ``redis-server`` if missing."""
    def found() -> str | None:
        return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")

    program = found()
    if program is None and install:
        install_debian_package("redis-server")
        program = found()
    if program is None:
        raise TrackitError("redis-server was not found: install the Debian package "
                           "redis-server")
    return Path(program)


# --- PostgreSQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL cluster: where it listens and how to reach its database."""

    port: int
    cluster_dir: Path
    socket_dir: Path | None
    database: str
    bin_dir: Path
    host: str = LOOPBACK
    user: str = POSTGRES_USER

    def url(self, scheme: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL of the database (``db+postgresql+psycopg2``: Celery's results)."""
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}"

    def psql(self, sql: str, *, database: str | None = None, host: str | None = None
             ) -> str:
        """Run ``sql`` with psql (over TCP, or the unix socket when ``host`` is its folder)
        and return its unaligned output."""
        done = subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", host or self.host, "-p", str(self.port), "-U", self.user,
             "-d", database or self.database, "-c", sql],
            capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise TrackitError(f"psql on port {self.port} failed: {done.stderr.strip()}")
        return done.stdout.strip()


def _cluster_owner() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: ``postgres`` when this is root, else this user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise TrackitError("PostgreSQL refuses to run as root and there is no postgres "
                           "user: install the Debian package postgresql, which creates it, "
                           "or run as another user") from None


def postgres_can_use(folder: Path) -> bool:
    """Whether the user PostgreSQL runs as may write ``folder`` (it and every parent
    searchable); always true when that user is this one and the folder is writable."""
    owner = _cluster_owner()
    if owner is None:
        return os.access(folder, os.W_OK | os.X_OK)
    probe = subprocess.run(["test", "-w", str(folder), "-a", "-x", str(folder)],
                           user=owner.pw_uid, group=owner.pw_gid, cwd="/")
    return probe.returncode == 0


def _as_owner(owner: pwd.struct_passwd | None) -> dict[str, object]:
    return {} if owner is None else {"user": owner.pw_uid, "group": owner.pw_gid,
                                     "extra_groups": []}


def _init_cluster(bin_dir: Path, cluster_dir: Path, owner: pwd.struct_passwd | None,
                  log: Path) -> None:
    cluster_dir.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(cluster_dir, owner.pw_uid, owner.pw_gid)
    if not postgres_can_use(cluster_dir):
        raise TrackitError(f"PostgreSQL runs as user {owner.pw_name if owner else 'this'}, "
                           f"which cannot write {cluster_dir} (or search a folder above it): "
                           "choose a folder it can reach")
    cluster_dir.chmod(0o700)
    with log.open("ab") as out:
        done = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(cluster_dir), "-U", POSTGRES_USER,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            stdout=out, stderr=subprocess.STDOUT, cwd=cluster_dir, **_as_owner(owner))
    if done.returncode != 0:
        raise TrackitError(f"initdb of {cluster_dir} failed (see {log})")


@contextmanager
def running_postgres(cluster_dir: Path, *, port: int | None = None,
                     database: str = "airflow", log: Path | None = None,
                     install: bool = True, timeout: float = 60.0
                     ) -> Iterator[PostgresServer]:
    """PostgreSQL serving ``cluster_dir`` (initialised when it holds no cluster yet) on
    127.0.0.1:``port`` (a free one by default), with ``database`` created; stopped (fast
    shutdown, then killed) when the block exits, however it exits."""
    bin_dir = postgres_bin_dir(install=install)
    owner = _cluster_owner()
    cluster_dir = cluster_dir.resolve()
    log = log or cluster_dir.with_name(cluster_dir.name + ".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    if not (cluster_dir / "PG_VERSION").is_file():
        _init_cluster(bin_dir, cluster_dir, owner, log)
    port = port or free_port()
    socket_path = cluster_dir / f".s.PGSQL.{port}"
    socket_dir = cluster_dir if len(str(socket_path)) <= UNIX_SOCKET_PATH_MAX else None
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(cluster_dir), "-p", str(port),
             "-c", f"listen_addresses={LOOPBACK}",
             "-c", f"unix_socket_directories={socket_dir or ''}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cluster_dir,
            start_new_session=True, **_as_owner(owner))
    try:
        server = PostgresServer(port=port, cluster_dir=cluster_dir, socket_dir=socket_dir,
                                database=database, bin_dir=bin_dir)
        wait_until(lambda: _accepts_queries(server), timeout=timeout,
                   what=f"PostgreSQL on port {port}", process=process, log=log)
        if not server.psql(f"select 1 from pg_database where datname = '{database}'",
                           database="postgres"):
            server.psql(f'create database "{database}"', database="postgres")
        yield server
    finally:
        stop_process(process, first=signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown


def _accepts_queries(server: PostgresServer) -> bool:
    done = subprocess.run([str(server.bin_dir / "pg_isready"), "-q", "-h", server.host,
                           "-p", str(server.port)], capture_output=True)
    return done.returncode == 0


# --- Redis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisServer:
    """A running Redis: where it listens."""

    port: int
    host: str = LOOPBACK

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def ping(self) -> bool:
        """Whether the server answers ``PING`` with ``+PONG``."""
        try:
            with socket.create_connection((self.host, self.port), timeout=2) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def running_redis(work_dir: Path, *, port: int | None = None, log: Path | None = None,
                  install: bool = True, timeout: float = 30.0) -> Iterator[RedisServer]:
    """Redis on 127.0.0.1:``port`` (a free one by default), working in ``work_dir``,
    without snapshots (a broker's queue, not a store); stopped when the block exits."""
    program = redis_server_program(install=install)
    work_dir.mkdir(parents=True, exist_ok=True)
    log = log or work_dir / "redis.log"
    port = port or free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(program), "--port", str(port), "--bind", LOOPBACK, "--dir", str(work_dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work_dir,
            start_new_session=True)
    try:
        server = RedisServer(port=port)
        wait_until(server.ping, timeout=timeout, what=f"Redis on port {port}",
                   process=process, log=log)
        yield server
    finally:
        stop_process(process)
