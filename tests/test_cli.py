"""The ``trackit`` console script: every subcommand answers ``--help``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trackit.cli import COMMAND_MODULES, build_parser


def test_every_subcommand_has_help() -> None:
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {"simulate", "ingest", "send-message", "getio", "transform", "build", "demo"} <= names
    assert len(COMMAND_MODULES) >= 6


@pytest.mark.parametrize("command", ["simulate", "ingest", "transform", "build", "demo"])
def test_help_exits_zero(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trackit", command, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "usage: trackit" in out.stdout
