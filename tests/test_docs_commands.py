"""Every shell command in README.md and docs/*.md works from a fresh clone, as written.

A command is a line of a fenced ``bash``/``sh``/``shell``/``console`` block (``\\``
continuations joined, ``#`` comments dropped, ``export`` lines carried through the block),
or inline code that starts with ``./run`` or ``.venv/bin/PROGRAM ARG`` (a bare
``.venv/bin/trackit`` names a program). Each is classified by its
program:

* cheap ones run for real: ``./run`` with ``--help`` (the wrapper, then the program),
  ``trackit report`` and ``python -c`` one-liners against a small warehouse in a temporary
  directory that stands for the clone's ``./data``;
* long-running or networked ones (ingest, simulate, demo, build, Airflow, benchmarks,
  pytest, JupyterLab) are parsed, not run: their argv goes through the program's real
  parser (``trackit.cli.build_parser()``, Airflow's ``get_parser()``, a benchmark's own
  argparse, ``jupyter execute --help-all``) and every file they name must exist;
* a command the test cannot classify fails it, so a new page stays honest.

Fenced blocks without a language must not hold commands: tag them so they are checked.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from trackit import cli

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^\s*```(\S*)\s*$")
INLINE_COMMAND = re.compile(r"`(\./run(?: [^`]*)?|\.venv/bin/[^`\s]+ [^`]+)`")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
LOOKS_LIKE_A_COMMAND = ("./run", ".venv/", ".tools/", "trackit ", "airflow ", "duckdb ",
                        "export ", "$ ", "python", "jupyter ", "uv ")
PYTEST_OPTIONS_WITH_VALUE = {"-k", "-m", "-p", "--timeout", "--maxfail", "--deselect"}


class DocCommandError(AssertionError):
    """A documented command that would not work as written."""


@dataclass(frozen=True)
class DocCommand:
    """One command of the docs: where it is, its text, and the environment it runs in."""

    where: str
    text: str
    exported: tuple[tuple[str, str], ...] = ()

    def argv(self) -> tuple[dict[str, str], list[str]]:
        """(assignments before the program, expanded argv) as a shell would see them."""
        tokens = shlex.split(self.text, comments=True)
        known = {"PWD": str(REPO), **dict(self.exported)}
        assignments: dict[str, str] = {}
        while tokens and tokens[0] != "export" and ASSIGNMENT.match(tokens[0]):
            name, value = ASSIGNMENT.match(tokens.pop(0)).groups()  # type: ignore[union-attr]
            assignments[name] = expand(value, known, self)
        known.update(assignments)
        return assignments, [expand(token, known, self) for token in tokens]


def expand(token: str, known: dict[str, str], command: DocCommand) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in known:
            raise DocCommandError(f"{command.where}: `{command.text}` uses ${name}, which "
                                  "the docs never set")
        return known[name]
    return VARIABLE.sub(value, token)


def fenced_blocks(path: Path) -> list[tuple[str, int, list[str]]]:
    """(language, line number of the first line, lines) of every fenced block."""
    blocks: list[tuple[str, int, list[str]]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    inside: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if inside is None and fence:
            inside = (fence.group(1).lower(), number + 1, [])
        elif inside is not None and line.strip() == "```":
            blocks.append(inside)
            inside = None
        elif inside is not None:
            inside[2].append(line)
    return blocks


def block_commands(path: Path, language: str, first: int, lines: list[str]
                   ) -> list[DocCommand]:
    name = path.relative_to(REPO).as_posix()
    commands: list[DocCommand] = []
    exported: dict[str, str] = {}
    pending, start = "", first
    for number, line in enumerate(lines, first):
        text = line.strip()
        if not pending:
            start = number
            if language == "console":
                if not text.startswith("$ "):
                    continue
                text = text[2:]
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        if not shlex.split(text, comments=True):
            continue
        command = DocCommand(f"{name}:{start}", text, tuple(exported.items()))
        commands.append(command)
        try:
            _, argv = command.argv()
        except DocCommandError:
            continue  # its own test reports it
        if argv[:1] == ["export"]:
            for token in argv[1:]:
                match = ASSIGNMENT.match(token)
                if match:
                    exported[match.group(1)] = match.group(2)
    return commands


def inline_commands(path: Path) -> list[DocCommand]:
    name = path.relative_to(REPO).as_posix()
    commands = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            commands += [DocCommand(f"{name}:{number}", match.group(1))
                         for match in INLINE_COMMAND.finditer(line)]
    return commands


def doc_commands() -> list[DocCommand]:
    commands: list[DocCommand] = []
    for path in DOCS:
        for language, first, lines in fenced_blocks(path):
            if language in SHELL_LANGUAGES:
                commands += block_commands(path, language, first, lines)
        commands += inline_commands(path)
    return commands


COMMANDS = doc_commands()


# --- the checks, one per program ------------------------------------------------------


@dataclass
class Context:
    """Where cheap commands run: ``root`` stands for the clone (``root/data`` holds a small
    warehouse); ``tmp`` receives files the docs write to ``/tmp``."""

    root: Path
    tmp: Path


def check(command: DocCommand, context: Context) -> None:
    """Raise DocCommandError unless ``command`` works from a fresh clone as written."""
    _, argv = command.argv()
    if not argv:
        return
    if argv[0].startswith("["):
        raise DocCommandError(f"{command.where}: `{command.text}` holds a placeholder "
                              f"{argv[0]!r}: write a command that runs as it is")
    program, args = argv[0], argv[1:]
    if program == "export":
        for token in args:
            if not ASSIGNMENT.match(token):
                raise DocCommandError(f"{command.where}: `export {token}` is not NAME=VALUE")
    elif program == "./run":
        check_run(command, args, context)
    elif program == ".venv/bin/trackit":
        check_trackit(command, args, context)
    elif program == ".venv/bin/python":
        check_python(command, args, context)
    elif program == ".venv/bin/airflow":
        check_airflow(command, args)
    elif program == ".venv/bin/jupyter":
        check_jupyter(command, args)
    elif program == ".tools/bin/uv":
        check_uv(command, args)
    elif program == "git":
        check_git(command, args)
    else:
        raise DocCommandError(
            f"{command.where}: `{command.text}`: no rule for {program!r}; a fresh clone has "
            "only ./run, .venv/bin/... (after ./run) and .tools/bin/uv. Add a rule to "
            "tests/test_docs_commands.py if this command is right")


def check_git(command: DocCommand, args: list[str]) -> None:
    """Only read-only git commands over paths of the clone (``git diff tests/...``)."""
    if args[:1] not in (["diff"], ["status"], ["log"]):
        raise DocCommandError(f"{command.where}: `{command.text}`: only git diff, status and "
                              "log are documented commands")
    for arg in args[1:]:
        if not arg.startswith("-") and not (REPO / arg).exists():
            raise DocCommandError(f"{command.where}: `{command.text}`: no {arg} in the clone")


def run_targets() -> set[str]:
    return set(re.findall(r"^  (\w+)\)", (REPO / "run").read_text(), flags=re.MULTILINE))


def check_run(command: DocCommand, args: list[str], context: Context) -> None:
    if not args or "--help" in args or "-h" in args:
        run_for_real(command, ["bash", str(REPO / "run"), *args])
        return
    target, rest = args[0], args[1:]
    if target not in run_targets():
        raise DocCommandError(f"{command.where}: `./run {target}`: run has no such target "
                              f"(it has {sorted(run_targets())})")
    if target == "trackit":
        check_trackit(command, rest, context)
    elif target == "demo":
        check_trackit(command, ["demo", *rest], context)
    elif target == "bench":
        if not rest:
            raise DocCommandError(f"{command.where}: `./run bench` needs a benchmark's name")
        check_bench(command, rest[0], rest[1:])
    elif target == "test":
        check_pytest_args(command, rest)
    elif target == "lint" and rest:
        raise DocCommandError(f"{command.where}: `./run lint` takes no arguments")
    elif target == "airflow":
        check_deploy(command, rest)


def check_deploy(command: DocCommand, args: list[str]) -> None:
    """``./run airflow WAY ...`` runs until Ctrl-C: its own parser checks the arguments."""
    from trackit.deploy.__main__ import build_parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code != 0:
            raise DocCommandError(f"{command.where}: `{command.text}`: ./run airflow refuses "
                                  f"its arguments: {stderr.getvalue().strip()}") from None


def run_for_real(command: DocCommand, argv: list[str], cwd: Path = REPO,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    if done.returncode != 0:
        raise DocCommandError(f"{command.where}: `{command.text}` exited {done.returncode}: "
                              f"{done.stderr.strip()[-2000:]}")
    return done


def check_trackit(command: DocCommand, args: list[str], context: Context) -> None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            cli.build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code != 0:
            raise DocCommandError(f"{command.where}: `{command.text}`: trackit refuses its "
                                  f"arguments: {stderr.getvalue().strip()}") from None
        return  # --help
    if args[:1] == ["report"]:
        run_report(command, args, context)


def run_report(command: DocCommand, args: list[str], context: Context) -> None:
    """``trackit report`` is cheap: run it, in-process, in the clone's stand-in."""
    args = [str(context.tmp / arg[len("/tmp/"):]) if arg.startswith("/tmp/") else arg
            for arg in args]
    saved = {name: os.environ.pop(name, None) for name in ("TRACKIT_DATA", "TRACKIT_TZ")}
    here = Path.cwd()
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        os.chdir(context.root)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(args)
    finally:
        os.chdir(here)
        os.environ.update({name: value for name, value in saved.items() if value is not None})
    if code != 0:
        raise DocCommandError(f"{command.where}: `{command.text}` exited {code}: "
                              f"{stderr.getvalue().strip()}")
    page = Path(stdout.getvalue().strip().splitlines()[-1])
    if not (page if page.is_absolute() else context.root / page).is_file():
        raise DocCommandError(f"{command.where}: `{command.text}` wrote no page ({page})")


# A benchmark's own argparse, without running the benchmark: parse_args parses, then exits.
PARSE_ONLY = """
import argparse, runpy, sys
parse_args = argparse.ArgumentParser.parse_args
def parse_only(self, args=None, namespace=None):
    parse_args(self, args, namespace)
    raise SystemExit(0)
argparse.ArgumentParser.parse_args = parse_only
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
raise SystemExit("the benchmark never parsed its arguments")
"""


@functools.cache
def bench_refusal(name: str, args: tuple[str, ...]) -> str | None:
    done = subprocess.run([sys.executable, "-c", PARSE_ONLY, str(REPO / "bench" / f"{name}.py"),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit {done.returncode}")


def check_bench(command: DocCommand, name: str, args: list[str]) -> None:
    if not (REPO / "bench" / f"{name}.py").is_file():
        raise DocCommandError(f"{command.where}: `{command.text}`: no bench/{name}.py")
    refusal = bench_refusal(name, tuple(args))
    if refusal:
        raise DocCommandError(f"{command.where}: `{command.text}`: bench/{name}.py refuses "
                              f"its arguments: {refusal[-1000:]}")


def check_pytest_args(command: DocCommand, args: list[str]) -> None:
    expects_value = False
    for arg in args:
        if expects_value or arg.startswith("-"):
            expects_value = arg in PYTEST_OPTIONS_WITH_VALUE
            continue
        path = REPO / arg.split("::")[0]
        if not path.exists():
            raise DocCommandError(f"{command.where}: `{command.text}`: no {arg} in the clone")


def check_python(command: DocCommand, args: list[str], context: Context) -> None:
    if args[:2] == ["-m", "pytest"]:
        check_pytest_args(command, args[2:])
    elif "-c" in args and set(args[: args.index("-c")]) <= {"-i"}:
        env = {name: value for name, value in os.environ.items()
               if name not in ("TRACKIT_DATA", "TRACKIT_TZ")}
        run_for_real(command, [sys.executable, *args], cwd=context.root, env=env)
    else:
        raise DocCommandError(f"{command.where}: `{command.text}`: no rule for these python "
                              "arguments (-c CODE, -i -c CODE and -m pytest are checked)")


AIRFLOW_PARSE = """
import contextlib, io, json, sys
from airflow.cli.cli_parser import get_parser
results = {}
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            namespace = get_parser().parse_args(argv)
        results[json.dumps(argv)] = {"dag_id": getattr(namespace, "dag_id", None)}
    except SystemExit as exc:
        results[json.dumps(argv)] = {"error": err.getvalue().strip() or f"exit {exc.code}"}
print(json.dumps(results))
"""


@functools.cache
def airflow_parses(argvs: str) -> dict[str, dict[str, str | None]]:
    """Airflow's own parser over a JSON list of argvs, in one subprocess (Airflow's import
    takes seconds)."""
    with tempfile.TemporaryDirectory(prefix="trackit-docs-airflow-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        done = subprocess.run([sys.executable, "-c", AIRFLOW_PARSE, argvs],
                              capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def documented_airflow_argvs() -> str:
    argvs = []
    for command in COMMANDS:
        with contextlib.suppress(DocCommandError):
            _, argv = command.argv()
            if argv[:1] == [".venv/bin/airflow"]:
                argvs.append(argv[1:])
    return json.dumps(argvs)


def check_airflow(command: DocCommand, args: list[str]) -> None:
    if not (Path(sys.executable).parent / "airflow").exists():
        raise DocCommandError(f"{command.where}: .venv/bin/airflow is not installed")
    results = airflow_parses(documented_airflow_argvs())
    if json.dumps(args) not in results:
        results = airflow_parses(json.dumps([args]))
    result = results[json.dumps(args)]
    if "error" in result:
        raise DocCommandError(f"{command.where}: `{command.text}`: airflow refuses it: "
                              f"{result['error'][-1000:]}")
    dag_id = result.get("dag_id")
    if dag_id and not any(f'"{dag_id}"' in path.read_text() or f"def {dag_id}(" in
                          path.read_text() for path in (REPO / "dags").glob("*.py")):
        raise DocCommandError(f"{command.where}: `{command.text}`: no DAG {dag_id} in dags/")


@functools.cache
def jupyter_execute_options() -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "execute",
                           "--help-all"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def check_jupyter(command: DocCommand, args: list[str]) -> None:
    if args[:1] != ["execute"]:
        raise DocCommandError(f"{command.where}: `{command.text}`: JupyterLab is not in .venv "
                              "(only `jupyter execute`, from nbclient); see docs/reports.md")
    for arg in args[1:]:
        if arg.startswith("--"):
            option = arg.split("=")[0]
            if f"{option}=" not in jupyter_execute_options():
                raise DocCommandError(f"{command.where}: `jupyter execute` has no {option}")
        elif not (REPO / arg).is_file():
            raise DocCommandError(f"{command.where}: `{command.text}`: no {arg} in the clone")


def check_uv(command: DocCommand, args: list[str]) -> None:
    """``.tools/bin/uv run --frozen --with PKG PROGRAM ...``: ./run installs uv there; the
    program (fetched from PyPI) is parsed, not run."""
    if ".tools/bin/uv" not in (REPO / "run").read_text():
        raise DocCommandError(f"{command.where}: ./run no longer installs .tools/bin/uv")
    if args[:1] != ["run"]:
        raise DocCommandError(f"{command.where}: `{command.text}`: only `uv run` is checked")
    rest, inner = args[1:], []
    while rest:
        arg = rest.pop(0)
        if arg == "--frozen":
            continue
        if arg == "--with" and rest:
            rest.pop(0)
            continue
        inner = [arg, *rest]
        break
    if inner[:2] != ["jupyter", "lab"]:
        raise DocCommandError(f"{command.where}: `{command.text}`: no rule for `uv run` of "
                              f"{inner[:2]}")
    if "--allow-root" not in inner:
        raise DocCommandError(f"{command.where}: `jupyter lab` refuses to start as root "
                              "without --allow-root")
    for arg in inner[2:]:
        if not arg.startswith("-") and not (REPO / arg).is_file():
            raise DocCommandError(f"{command.where}: `{command.text}`: no {arg} in the clone")


# --- the tests ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Context:
    sys.path.insert(0, str(REPO / "tests" / "reports"))
    try:
        from report_warehouse_fixture import build_known_warehouse
    finally:
        sys.path.remove(str(REPO / "tests" / "reports"))
    root = tmp_path_factory.mktemp("clone")
    build_known_warehouse(root / "data")
    return Context(root=root, tmp=tmp_path_factory.mktemp("tmp"))


def test_the_docs_have_commands() -> None:
    programs = {command.argv()[1][0] for command in COMMANDS if command.argv()[1]}
    assert {"./run", ".venv/bin/python", ".venv/bin/airflow"} <= programs
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.where)
def test_documented_command_works_as_written(command: DocCommand, context: Context) -> None:
    problem = None
    try:
        check(command, context)
    except DocCommandError as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_untagged_blocks_hold_no_commands(path: Path) -> None:
    for language, first, lines in fenced_blocks(path):
        if language:
            continue
        for number, line in enumerate(lines, first):
            assert not line.strip().startswith(LOOKS_LIKE_A_COMMAND), (
                f"{path.relative_to(REPO)}:{number}: `{line.strip()}` looks like a command in "
                "a block without a language: tag the block ```bash so this test checks it")


@pytest.mark.parametrize("text", [
    "trackit ingest --user-id 1",                          # not on PATH in a fresh clone
    "duckdb -readonly data/warehouse.duckdb",              # no duckdb shell in the clone
    "airflow dags test trackit_daily_report 2026-03-11",   # not on PATH either
    "X=1 [Y=2] .venv/bin/python -m pytest tests -q",       # a placeholder
    "./run trackit build --dta ./data",                    # a misspelled option
    "./run trackit report --date 2026-13-40",              # refused by trackit report
    "./run bench ingest --frams 10",                       # bench/ingest.py has --frames
    "./run bench nothing",                                 # no bench/nothing.py
    "./run airflow cluster",                               # laptop, server or celery
    "./run airflow server --prot 8080",                    # a misspelled option
    "./run test tests/no_such_test.py",                    # no such file
    ".venv/bin/airflow dags trigger no_such_dag",          # no such DAG
    ".venv/bin/jupyter lab notebooks/explore.ipynb",       # not installed in .venv
    ".tools/bin/uv run --frozen --with jupyterlab jupyter lab notebooks/explore.ipynb",
    '.venv/bin/python -c "import duckdb; duckdb.connect(\'data/nothing.duckdb\', '
    'read_only=True)"',                                    # no such warehouse
    "TRACKIT_DATA=$NOWHERE/data ./run trackit --help",     # a variable nobody set
])
def test_a_command_that_would_not_work_fails(text: str, context: Context) -> None:
    command = DocCommand("example.md:1", text)
    with pytest.raises(DocCommandError):
        check(command, context)
