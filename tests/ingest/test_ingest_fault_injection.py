"""Fault injection on the real process: SIGKILL at a random moment, then a damaged block.

Each round streams numbered frames from the fake server into ``trackit ingest``, kills it
with SIGKILL at a random moment, flips 4 bytes inside a random batch (not the last) of a
random journal segment, and restarts it. The raw lake must then hold every frame that had
reached the journal or the lake, except those of the damaged batch; no ``seq`` twice; and
the log must name the damaged segment. The seed is printed (``-s``) to replay a round.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal

from segment_bytes import flip, segment_batches

from ingest.journal import read_segment, segment_first_seq

ROUNDS = 4
FRAMES = 30_000


def _numbers_by_seq(table) -> dict[int, int]:
    return {
        seq: json.loads(frame)["n"]
        for seq, frame in zip(
            table.column("seq").to_pylist(), table.column("frame").to_pylist(), strict=True
        )
        if '"n"' in frame
    }


async def test_sigkill_and_a_damaged_block_lose_only_the_damaged_batch(
    trackit_server, secret_env, trackit_cmd, tmp_path, read_raw, waiter
):
    seed = random.randrange(2**32)
    print(f"fault-injection seed {seed}")
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        data = tmp_path / f"data-{round_}"
        journal = data / "state/ingest/u123456/journal"
        trackit_server.frames = [
            json.dumps({"uid": 1001, "n": i, "pad": "x" * rng.randrange(80)})
            for i in range(FRAMES)
        ]
        trackit_server.connections = trackit_server.sent_total = 0
        args = [
            "ingest", "--url", trackit_server.url, "--auth-url", trackit_server.auth_url,
            "--user-id", "123456", "--data", str(data), "--status-interval", "0",
        ]
        process = await asyncio.create_subprocess_exec(
            *trackit_cmd(*args, "--roll-mb", "0.05"), env=secret_env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        kill_at = rng.randrange(2_000, FRAMES)
        await waiter(lambda at=kill_at: trackit_server.sent_total >= at, timeout_s=60)
        await asyncio.sleep(rng.random() * 0.05)
        process.send_signal(signal.SIGKILL)
        await process.wait()

        in_lake = _numbers_by_seq(read_raw(data))
        journaled: dict[int, int] = {}
        candidates = []
        for path in sorted(journal.glob("*.wal")):
            for run in read_segment(path, segment_first_seq(path.name)).runs:
                journaled |= _numbers_by_seq(run.to_table())
            candidates += [(path, batch) for batch in segment_batches(path.read_bytes())[:-1]]
        context = f"seed {seed}, round {round_}, killed after {kill_at} frames"
        assert candidates, context
        path, (start, end, lost_seqs, _, _) = rng.choice(candidates)
        flip(path, rng.randrange(start, end - 4))
        old_max_seq = max([*in_lake, *journaled])

        restart = await asyncio.create_subprocess_exec(
            *trackit_cmd(*args, "--duration", "0.3"), env=secret_env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(restart.communicate(), 60)
        log = err.decode()
        assert restart.returncode == 0, (context, log)

        table = read_raw(data)
        seqs = table.column("seq").to_pylist()
        assert len(seqs) == len(set(seqs)), context
        assert max(seqs) > old_max_seq  # the restart's auth reply, numbered above all
        lost = {journaled[seq] for seq in lost_seqs} - set(in_lake.values())
        expected = (set(in_lake.values()) | set(journaled.values())) - lost
        numbers = list(_numbers_by_seq(table).values())
        assert len(numbers) == len(set(numbers)), context
        assert set(numbers) == expected, (context, sorted(expected - set(numbers))[:10])
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert any(f"journal segment {path} is damaged" in line for line in errors), (
            context, log,
        )
        if lost:
            lost_range = f"seq {min(lost_seqs)}..{max(lost_seqs)}"
            assert any(lost_range in line for line in errors), (context, log)
        assert (path.parent.parent / "damaged" / path.name).exists()
        assert not list(journal.glob("*.wal"))
