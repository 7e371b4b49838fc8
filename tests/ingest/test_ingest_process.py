"""``trackit ingest`` as a real process: refused auth, kill -9 and restart, clean stop."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from ingest.journal import SEGMENT_SUFFIX, read_segment

WRONG_SESSID = "WRONGxSESSIDxVALUExxxxxxxx"
WRONG_AUTHORIZATION = "Bearer wrong-authorization-value"


async def _run(cmd: list[str], env: dict[str, str], timeout_s: float = 30) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _ingest_args(server, data, *extra: str) -> list[str]:
    return [
        "ingest", "--url", server.url, "--auth-url", server.auth_url,
        "--user-id", "123456", "--data", str(data), "--status-interval", "0", *extra,
    ]


@pytest.mark.parametrize(
    ("env_name", "wrong_value", "expected"),
    [
        ("TRACKIT_SESSID", WRONG_SESSID, "token check refused"),
        ("TRACKIT_AUTHORIZATION", WRONG_AUTHORIZATION, "HTTP 401"),
    ],
)
async def test_wrong_secret_exits_non_zero_with_clear_message_and_no_secret(
    trackit_server, secret_env, trackit_cmd, tmp_path, env_name, wrong_value, expected
):
    secret_env[env_name] = wrong_value
    code, out, err = await _run(
        trackit_cmd(*_ingest_args(trackit_server, tmp_path / "data")), secret_env
    )
    assert code != 0
    error_lines = [line for line in err.splitlines() if line.startswith("trackit: error:")]
    assert len(error_lines) == 1 and expected in error_lines[0], err
    for secret in (wrong_value, secret_env["TRACKIT_SESSID"], secret_env["TRACKIT_AUTHORIZATION"]):
        assert secret not in out and secret not in err


async def test_socket_auth_refusal_names_the_cause(
    trackit_server, secret_env, trackit_cmd, tmp_path
):
    # The token check passes but the socket refuses this user id.
    args = _ingest_args(trackit_server, tmp_path / "data")
    args[args.index("--user-id") + 1] = "999"
    code, out, err = await _run(trackit_cmd(*args), secret_env)
    assert code != 0
    assert "authentication refused by server (auth success=false)" in err
    assert secret_env["TRACKIT_SESSID"] not in err + out
    assert secret_env["TRACKIT_AUTHORIZATION"] not in err + out


async def test_missing_credentials_is_a_clear_error(
    trackit_server, secret_env, trackit_cmd, tmp_path
):
    del secret_env["TRACKIT_SESSID"]
    code, _, err = await _run(trackit_cmd(*_ingest_args(trackit_server, tmp_path)), secret_env)
    assert code != 0
    assert "missing credentials: set TRACKIT_SESSID" in err


async def test_sigterm_rolls_everything_and_exits_zero(
    trackit_server, secret_env, trackit_cmd, tmp_path, read_raw, waiter
):
    trackit_server.frames = [json.dumps({"uid": 1, "params": {"type": "records", "n": i}})
                             for i in range(200)]
    process = await asyncio.create_subprocess_exec(
        *trackit_cmd(*_ingest_args(trackit_server, tmp_path / "data")), env=secret_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    await waiter(lambda: trackit_server.sent_total == 200, timeout_s=20)
    await asyncio.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    assert "201 frames journaled" in out.decode()
    assert read_raw().num_rows == 201  # the auth reply and the 200 frames


async def test_kill_9_loses_no_journaled_frame_and_seq_keeps_increasing(
    trackit_server, secret_env, trackit_cmd, tmp_path, read_raw, waiter
):
    data = tmp_path / "data"
    total = 40_000
    trackit_server.frames = [
        json.dumps({"uid": 1001, "params": {"type": "records", "total": 1, "n": i}})
        for i in range(total)
    ]
    process = await asyncio.create_subprocess_exec(
        *trackit_cmd(*_ingest_args(trackit_server, data, "--roll-mb", "0.2")),
        env=secret_env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    await waiter(
        lambda: trackit_server.sent_total >= 15_000 and any((data / "raw").rglob("*.parquet")),
        timeout_s=60,
    )
    process.kill()
    await process.wait()
    sent_before_kill = trackit_server.sent_total

    def numbers(frames: list[str]) -> list[int]:
        return [json.loads(f)["params"]["n"] for f in frames if '"n"' in f]

    in_lake = numbers(read_raw().column("frame").to_pylist())
    journal_dir = data / "state/ingest/u123456/journal"
    in_journal: list[int] = []
    for path in sorted(journal_dir.glob(f"*{SEGMENT_SUFFIX}")):
        columns = read_segment(path, int(path.stem)).columns
        table = columns.to_table()
        in_journal += numbers(table.column("frame").to_pylist())
    reached = set(in_lake) | set(in_journal)
    assert in_lake, "some segments were rolled before the kill"
    assert reached == set(range(len(reached)))  # a prefix of the stream, no holes
    assert len(reached) <= sent_before_kill
    old_max_seq = max(read_raw().column("seq").to_pylist())

    code, _, err = await _run(
        trackit_cmd(*_ingest_args(trackit_server, data, "--duration", "0.5")), secret_env
    )
    assert code == 0, err

    table = read_raw()
    recovered = numbers(table.column("frame").to_pylist())
    assert sorted(recovered) == sorted(reached)
    assert len(recovered) == len(set(recovered))  # exactly once
    seqs = table.column("seq").to_pylist()
    assert len(seqs) == len(set(seqs))
    assert recovered == sorted(recovered)  # seq order is arrival order
    first_connection = table.column("connection_id")[0].as_py()
    new_seqs = [
        row["seq"] for row in table.to_pylist() if row["connection_id"] != first_connection
    ]
    assert new_seqs and min(new_seqs) > old_max_seq
    assert not list(journal_dir.glob(f"*{SEGMENT_SUFFIX}"))
