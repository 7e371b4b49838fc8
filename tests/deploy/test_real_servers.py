"""The real servers of the distributed tests: each starts on loopback, answers, and is gone
once its block exits, also when the block raised."""

from __future__ import annotations

import subprocess

import pytest
from pyarrow import fs
from real_servers import (
    port_open,
    postgres_server,
    redis_server,
    s3_server,
    signed_s3_put,
)

pytestmark = pytest.mark.distributed


class Boom(Exception):
    """Raised inside a server's block to check it still stops."""


def test_postgres_answers_over_tcp_and_its_socket_then_stops() -> None:
    with postgres_server(database="trackit") as server:
        assert server.psql("select 1") == "1"
        assert server.socket_dir is not None
        assert server.psql("select current_database()", host=str(server.socket_dir)) == \
            "trackit"
        assert server.psql("show listen_addresses") == "127.0.0.1"
        port, cluster = server.port, server.cluster_dir
    assert not port_open(port)
    assert not cluster.exists()


def test_postgres_stops_when_the_block_raises() -> None:
    with pytest.raises(Boom), postgres_server() as server:
        port = server.port
        assert server.psql("select 1") == "1"
        raise Boom
    assert not port_open(port)
    check = subprocess.run(["pgrep", "-f", f"postgres -D {server.cluster_dir}"],
                           capture_output=True)
    assert check.returncode == 1, "a postgres process outlived its block"


def test_redis_answers_ping_then_stops_even_when_the_block_raises() -> None:
    with pytest.raises(Boom), redis_server() as server:
        assert server.ping()
        port = server.port
        raise Boom
    assert not server.ping()
    assert not port_open(port)


def test_s3_put_get_list_and_conditional_put_then_stops() -> None:
    with pytest.raises(Boom), s3_server(bucket="lake") as server:
        s3 = server.filesystem()
        assert isinstance(s3, fs.S3FileSystem)
        with s3.open_output_stream("lake/raw/date=2026-03-02/part-1.parquet") as out:
            out.write(b"frames")
        with s3.open_input_stream("lake/raw/date=2026-03-02/part-1.parquet") as source:
            assert source.read() == b"frames"
        listed = s3.get_file_info(fs.FileSelector("lake", recursive=True))
        assert "lake/raw/date=2026-03-02/part-1.parquet" in {info.path for info in listed}
        # a wrong secret is refused: the store checks signatures
        with pytest.raises(OSError, match=r"(?i)access|denied|signature"):
            server.filesystem(secret_key="wrong").open_input_stream(
                "lake/raw/date=2026-03-02/part-1.parquet").read()
        # create-only writes: the second PUT with If-None-Match: * is refused (412)
        first = signed_s3_put(server, "state/lock", b"a", {"If-None-Match": "*"})
        second = signed_s3_put(server, "state/lock", b"b", {"If-None-Match": "*"})
        assert (first, second) == (200, 412)
        with s3.open_input_stream("lake/state/lock") as source:
            assert source.read() == b"a"
        port = server.port
        raise Boom
    assert not port_open(port)
