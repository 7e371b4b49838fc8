"""Bad command-line input fails with one line and a non-zero exit, never a traceback.

Every case runs the real ``trackit`` entry point (``trackit.cli.main``) and reads its stderr:
argument errors are ``trackit CMD: error: argument --opt: ...`` (exit 2), data-directory
errors ``trackit: error: ...`` (exit 1). The read-only cases mount a read-only tmpfs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmpfs import mounted_tmpfs

from trackit.cli import build_parser, main
from trackit.options import MAX_VEHICLES

TOO_BIG_ID = str(2**63)
# ingest needs these to parse; the port 1 on loopback refuses at once if ever reached.
INGEST = ["ingest", "--user-id", "1", "--url", "ws://127.0.0.1:1",
          "--auth-url", "http://127.0.0.1:1/ws/websocketAuth"]

BAD_ARGUMENTS = [
    # ids beyond TRACKiT's 64-bit range, zero or negative
    (["ingest", "--user-id", TOO_BIG_ID], "--user-id"),
    (["ingest", "--user-id", "0"], "--user-id"),
    (["ingest", "--user-id", "-3"], "--user-id"),
    (["simulate", "--user-id", TOO_BIG_ID], "--user-id"),
    (["simulate", "--user-id", "0"], "--user-id"),
    (["simulate", "--user-id", "-1"], "--user-id"),
    # durations and intervals of ingest
    ([*INGEST, "--duration", "nan"], "--duration"),
    ([*INGEST, "--duration", "inf"], "--duration"),
    ([*INGEST, "--duration", "-5"], "--duration"),
    ([*INGEST, "--duration", "0"], "--duration"),
    ([*INGEST, "--roll-seconds", "nan"], "--roll-seconds"),
    ([*INGEST, "--roll-seconds", "0"], "--roll-seconds"),
    ([*INGEST, "--fsync-interval", "inf"], "--fsync-interval"),
    ([*INGEST, "--fsync-interval", "0"], "--fsync-interval"),
    ([*INGEST, "--status-interval", "nan"], "--status-interval"),
    ([*INGEST, "--status-interval", "-1"], "--status-interval"),
    ([*INGEST, "--silence-timeout", "inf"], "--silence-timeout"),
    ([*INGEST, "--silence-timeout", "-1"], "--silence-timeout"),
    ([*INGEST, "--getio-interval", "nan"], "--getio-interval"),
    ([*INGEST, "--getio-interval", "-60"], "--getio-interval"),
    ([*INGEST, "--roll-mb", "nan"], "--roll-mb"),
    ([*INGEST, "--roll-mb", "0"], "--roll-mb"),
    ([*INGEST, "--roll-mb", "4096"], "--roll-mb"),
    # durations, factors and counts of simulate
    (["simulate", "--duration", "nan"], "--duration"),
    (["simulate", "--duration", "inf"], "--duration"),
    (["simulate", "--duration", "-1"], "--duration"),
    (["simulate", "--duration", "0"], "--duration"),
    (["simulate", "--ground-truth-every", "nan"], "--ground-truth-every"),
    (["simulate", "--ground-truth-every", "0"], "--ground-truth-every"),
    (["simulate", "--drop-every", "inf"], "--drop-every"),
    (["simulate", "--drop-every", "0"], "--drop-every"),
    (["simulate", "--late-hours", "nan"], "--late-hours"),
    (["simulate", "--late-hours", "inf"], "--late-hours"),
    (["simulate", "--late-hours", "0"], "--late-hours"),
    (["simulate", "--reply-delay-scale", "nan"], "--reply-delay-scale"),
    (["simulate", "--reply-delay-scale", "inf"], "--reply-delay-scale"),
    (["simulate", "--reply-delay-scale", "-1"], "--reply-delay-scale"),
    (["simulate", "--speedup", "nan"], "--speedup"),
    (["simulate", "--speedup", "0"], "--speedup"),
    (["simulate", "--speedup", "fast"], "--speedup"),
    (["simulate", "--malformed-rate", "nan"], "--malformed-rate"),
    (["simulate", "--message-failure-rate", "1.5"], "--message-failure-rate"),
    (["simulate", "--vehicles", "100000000"], "--vehicles"),
    (["simulate", "--vehicles", str(MAX_VEHICLES + 1)], "--vehicles"),
    (["simulate", "--vehicles", "0"], "--vehicles"),
    (["simulate", "--seed", str(10**12 + 1)], "--seed"),
    (["demo", "--seed", str(-10**12)], "--seed"),
    (["simulate", "--port", "70000"], "--port"),
    (["simulate", "--prebuild", "-1"], "--prebuild"),
    (["simulate", "--slow-consumer-bytes", "0"], "--slow-consumer-bytes"),
    (["simulate", "--refuse-auth", "-2"], "--refuse-auth"),
    (["simulate", "--start", "yesterday"], "--start"),
    (["simulate", "--start", "-infh"], "--start"),
    (["simulate", "--start", "-1e300h"], "--start"),
    (["simulate", "--start", "-nanh"], "--start"),
    (["simulate", "--start=-1e300h"], "--start"),
    (["simulate", "--start", "99999-01-01"], "--start"),
    # transform
    (["transform", "--batch-frames", "0"], "--batch-frames"),
    (["transform", "--batch-frames", "-5"], "--batch-frames"),
    (["transform", "--batch-frames", "1.5"], "--batch-frames"),
    # demo
    (["demo", "--minutes", "nan"], "--minutes"),
    (["demo", "--minutes", "inf"], "--minutes"),
    (["demo", "--minutes", "0"], "--minutes"),
    (["demo", "--minutes", "-2"], "--minutes"),
    (["demo", "--speedup", "nan"], "--speedup"),
    (["demo", "--speedup", "inf"], "--speedup"),
    (["demo", "--speedup", "0"], "--speedup"),
    (["demo", "--vehicles", "0"], "--vehicles"),
    (["demo", "--vehicles", "100000000"], "--vehicles"),
    # report: the date the docs promise a one-line error for
    (["report", "--date", "2026-13-01"], "--date"),
    (["report", "--tz", "Nowhere/Zone"], "--tz"),
]


def fail_at_parse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``trackit ARGV``, expect argparse's exit 2, return the only stderr line."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "usage:" not in captured.err and "Traceback" not in captured.err
    return lines[0]


def _handler_reached(args: object) -> int:
    raise AssertionError("the command ran: its arguments were accepted")


@pytest.mark.parametrize(("argv", "option"), BAD_ARGUMENTS,
                         ids=[" ".join(a[0][:1] + a[0][1:][-2:]) for a in BAD_ARGUMENTS])
def test_bad_argument_is_one_line_naming_the_option(
        argv: list[str], option: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Should parsing accept a bad value, fail at once rather than serve or ingest forever.
    monkeypatch.setattr(f"trackit.commands.{argv[0]}.run", _handler_reached)
    line = fail_at_parse(argv, capsys)
    assert line.startswith(f"trackit {argv[0]}: error: argument {option}"), line


def test_a_missing_value_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    line = fail_at_parse(["simulate", "--duration"], capsys)
    assert line.startswith("trackit simulate: error: argument --duration: expected one"), line


@pytest.mark.parametrize("argv", [
    ["simulate", "--speedup", "max"],
    ["simulate", "--speedup", "MAX"],
    ["simulate", "--vehicles", str(MAX_VEHICLES), "--refuse-auth", "-1"],
    ["simulate", "--reply-delay-scale", "0", "--user-id", str(2**63 - 1)],
    [*INGEST, "--status-interval", "0", "--silence-timeout", "0", "--getio-interval", "0"],
    [*INGEST, "--roll-mb", "1024", "--duration", "0.5"],
    ["transform", "--batch-frames", "1"],
    ["demo", "--minutes", "0.5", "--speedup", "600", "--vehicles", str(MAX_VEHICLES)],
])
def test_sensible_values_still_parse(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    if argv[:3] == ["simulate", "--speedup", "max"]:
        assert math.isinf(args.speedup)


# --data -------------------------------------------------------------------------------------

WRITING_COMMANDS = [INGEST, ["transform"], ["build"], ["demo", "--skip-airflow"]]


def run_with_data(argv: list[str], data: Path,
                  capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main([*argv, "--data", str(data)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(autouse=True)
def _demo_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIT_SESSID", "tjMzwqGgzNdDEyyswn3vZxFbWG")
    monkeypatch.setenv("TRACKIT_AUTHORIZATION", "demo-authorization-0000")


@pytest.mark.parametrize("argv", [*WRITING_COMMANDS, ["report"]], ids=lambda a: a[0])
def test_data_that_is_a_file_is_one_line(argv: list[str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.write_text("not a directory")
    code, lines = run_with_data(argv, data, capsys)
    assert code == 1
    assert lines == [f"trackit: error: data directory {data} is a file, not a directory"]


@pytest.mark.parametrize("argv", WRITING_COMMANDS, ids=lambda a: a[0])
def test_data_in_proc_is_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_with_data(argv, Path("/proc/self"), capsys)
    assert code == 1
    assert lines == ["trackit: error: data directory /proc/self is not writable "
                     "(read-only file system or no permission)"]


def test_report_on_proc_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_with_data(["report"], Path("/proc/self"), capsys)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("trackit: error: no warehouse at /proc/self")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty directory on a read-only tmpfs."""
    with mounted_tmpfs(tmp_path / "read-only", "1m", read_only=True) as mount:
        yield mount


@pytest.mark.parametrize("argv", WRITING_COMMANDS, ids=lambda a: a[0])
def test_data_on_a_read_only_mount_is_one_line(argv: list[str], read_only_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_with_data(argv, read_only_dir, capsys)
    assert code == 1
    assert lines == [f"trackit: error: data directory {read_only_dir} is not writable "
                     "(read-only file system or no permission)"]


@pytest.mark.parametrize("argv", WRITING_COMMANDS, ids=lambda a: a[0])
def test_data_to_create_on_a_read_only_mount_is_one_line(
        argv: list[str], read_only_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = read_only_dir / "data"
    code, lines = run_with_data(argv, data, capsys)
    assert code == 1
    if argv[0] in ("transform", "build"):  # they never create a data directory
        assert lines == [f"trackit: error: data directory {data} does not exist "
                         "(check --data / TRACKIT_DATA)"]
    else:
        assert lines == [f"trackit: error: cannot create data directory {data}: "
                         "Read-only file system"]
