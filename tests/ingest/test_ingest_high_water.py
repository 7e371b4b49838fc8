"""The seq high-water mark is checked against the raw lake; seqs are never reused.

The last test runs ``trackit ingest`` as a real process against the fake server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from ingest.journal import JournalWriter, RecordKind
from ingest.recovery import recover_journal
from ingest.state import InstanceState
from lake.layout import DataLayout

BAD_MARKS = {
    "missing": None,
    "empty": "",
    "negative": "-5\n",
    "garbage": "garbage\n",
    "lower than the lake": "3\n",
}


def _journal_frames(state: InstanceState, first_seq: int, frames: int) -> None:
    """Journal ``frames`` frames and roll them into the raw lake like a running ingest."""
    closed = []
    writer = JournalWriter(state.journal, first_seq, roll_bytes=1 << 30, on_closed=closed.append)
    writer.start_connection("c")
    for n in range(frames):
        writer.add(RecordKind.TEXT_IN, f'{{"n":{n}}}'.encode())
        writer.flush()
    writer.close()
    for segment in closed:
        os.close(segment.fd)
    recover_journal(state)


def _corrupt(state: InstanceState, content: str | None) -> None:
    if content is None:
        state.high_water_path.unlink()
    else:
        state.high_water_path.write_text(content)


@pytest.mark.parametrize("how", list(BAD_MARKS))
def test_a_bad_high_water_mark_is_repaired_from_the_raw_lake(tmp_path, caplog, how):
    state = InstanceState(DataLayout(tmp_path / "data"), "inst")
    _journal_frames(state, 1, 98)
    assert state.read_high_water() == 98
    _corrupt(state, BAD_MARKS[how])

    with caplog.at_level(logging.WARNING, logger="ingest"):
        result = recover_journal(state)

    assert result.next_seq == 99
    assert state.high_water_path.read_text() == "98\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(state.high_water_path) in warnings[0] and "rewrote it as 98" in warnings[0]


def test_a_mark_above_the_lake_is_kept(tmp_path, caplog):
    state = InstanceState(DataLayout(tmp_path / "data"), "inst")
    _journal_frames(state, 1, 10)
    state.reset_high_water(500)  # e.g. old raw files were removed
    with caplog.at_level(logging.WARNING, logger="ingest"):
        assert recover_journal(state).next_seq == 501
    assert not caplog.records


def test_a_new_instance_starts_at_seq_1_silently(tmp_path, caplog):
    state = InstanceState(DataLayout(tmp_path / "data"), "inst")
    with caplog.at_level(logging.WARNING, logger="ingest"):
        assert recover_journal(state).next_seq == 1
    assert not caplog.records


def test_other_instances_files_do_not_count(tmp_path):
    layout = DataLayout(tmp_path / "data")
    other = InstanceState(layout, "inst-b")
    _journal_frames(other, 1, 40)
    state = InstanceState(layout, "inst")
    assert recover_journal(state).next_seq == 1


def test_strangers_in_the_journal_folder_are_left_alone_with_a_warning(tmp_path, caplog):
    state = InstanceState(DataLayout(tmp_path / "data"), "inst")
    _journal_frames(state, 1, 5)
    state.journal.mkdir(parents=True, exist_ok=True)
    (state.journal / "notes.wal").write_text("operator notes")
    (state.journal / "0000000000000099.wal.bak").write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="ingest"):
        assert recover_journal(state).next_seq == 6
    assert (state.journal / "notes.wal").read_text() == "operator notes"
    assert "notes.wal" in caplog.text and "0000000000000099.wal.bak" in caplog.text


def _ingest_args(server, data: Path, *extra: str) -> list[str]:
    return [
        "ingest", "--url", server.url, "--auth-url", server.auth_url, "--user-id", "123456",
        "--data", str(data), "--status-interval", "0", *extra,
    ]


async def _run(cmd: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_after_any_bad_mark_a_restarted_ingest_numbers_above_the_lake(
    trackit_server, secret_env, trackit_cmd, tmp_path, read_raw, waiter
):
    data = tmp_path / "data"
    state = InstanceState(DataLayout(data), "u123456")
    trackit_server.frames = [json.dumps({"uid": 1, "n": i}) for i in range(97)]
    code, err = await _run(trackit_cmd(*_ingest_args(trackit_server, data, "--duration", "1")),
                           secret_env)
    assert code == 0, err
    assert read_raw().num_rows == 98  # the auth reply and 97 frames
    (state.journal / "notes.wal").write_text("not a segment")
    for how, content in BAD_MARKS.items():
        before = read_raw().column("seq").to_pylist()
        _corrupt(state, content)
        code, err = await _run(
            trackit_cmd(*_ingest_args(trackit_server, data, "--duration", "0.3")), secret_env
        )
        assert code == 0, (how, err)
        assert "Traceback" not in err and "seq high-water mark" in err, (how, err)
        seqs = read_raw().column("seq").to_pylist()
        new = seqs[len(before):]
        assert new and min(new) > max(before), how
        assert len(seqs) == len(set(seqs)) and min(seqs) >= 1
    assert "notes.wal" in err
