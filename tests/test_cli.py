"""The ``trackit`` console script: every subcommand answers ``--help`` and shows its defaults."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trackit.cli import COMMAND_MODULES, build_parser

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["simulate", "ingest", "send-message", "getio", "transform", "build", "demo",
            "report"]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return dict(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


def test_every_subcommand_has_help() -> None:
    assert set(COMMANDS) <= set(subcommands())
    assert len(COMMAND_MODULES) >= 6


@pytest.mark.parametrize("argv", [[], *[[command] for command in COMMANDS]],
                         ids=lambda argv: " ".join(["trackit", *argv]))
def test_help_exits_zero(argv: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "trackit", *argv, "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(" ".join(["usage: trackit", *argv]))
    assert out.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_default_that_does_something(command: str) -> None:
    """Options whose default is a value (not unset, off or zero) say it in their help."""
    parser = subcommands()[command]
    silent = [
        action.option_strings[-1] for action in parser._actions
        if action.default not in (None, False, 0, [], argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ]
    assert silent == []
    text = parser.format_help()
    assert "%(default)" not in text


def documented_start_values() -> list[str]:
    """Every value given to ``--start`` in README.md and docs/*.md."""
    values = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        values += re.findall(r"--start[= ]([^\s`)]+)", page.read_text(encoding="utf-8"))
    return values


def test_the_documented_start_spellings_parse() -> None:
    values = documented_start_values()
    assert "-10h" in values
    parser = build_parser()
    for value in values:
        for argv in (["simulate", "--start", value], ["simulate", f"--start={value}"]):
            assert parser.parse_args(argv).start is not None, argv


def test_a_start_offset_after_a_space_is_taken_as_the_value() -> None:
    parser = build_parser()
    spaced = parser.parse_args(["simulate", "--start", "-90m", "--vehicles", "3"])
    joined = parser.parse_args(["simulate", "--start=-90m", "--vehicles", "3"])
    assert abs(spaced.start - joined.start) <= 1 and spaced.vehicles == 3
    # Only --start takes such a value: elsewhere a dash-digit value is still checked.
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--vehicles", "-3"])
