"""Data flows one way: every module's imports (parsed with ``ast``) against the layering.

The rule of README.md ("Data flows one way"), as data: a package may import itself and
the packages of lower layers, never a package of its own layer or above. The command line
(``trackit/``) and the benchmarks (``bench/``) sit on top and may import every layer;
nothing imports them. Test modules import what they like; of the installed packages, none
imports a test module or helper (the benchmarks may use the tests' data helpers).
Imports inside functions count too, and ``importlib.import_module("name")`` with a
literal name.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("protocol", "lake"),
    ("ingest", "simulator"),
    ("schemas",),
    ("transforms",),
    ("marts",),
    ("warehouse",),
    ("reports",),
    ("dags",),
)
ENTRY_POINTS = frozenset({"trackit", "bench"})
TESTS = "tests"

LAYER_OF = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
CHECKED = sorted(LAYER_OF) + sorted(ENTRY_POINTS)
TEST_HELPERS = frozenset(
    path.stem for path in (REPO / TESTS).rglob("*.py") if not path.name.startswith("test_")
) - {"__init__", "conftest"}


def allowed(importer: str, imported: str) -> bool:
    """Whether top-level package ``importer`` may import top-level module ``imported``."""
    if importer == TESTS or imported == importer:
        return True
    if imported in TEST_HELPERS:
        return importer == "bench"  # the benchmarks share the tests' synthetic data
    if imported in ENTRY_POINTS or imported == TESTS:
        return False
    if imported not in LAYER_OF:
        return True  # the standard library or a dependency
    if importer in ENTRY_POINTS:
        return True
    return LAYER_OF[imported] < LAYER_OF[importer]


def imported_modules(source: str, module: str) -> set[str]:
    """Top-level names ``source`` imports, relative ones resolved against ``module``.

    ``module`` is the dotted path of the file (``reports.daily``, ``reports.__init__``).
    """
    names: set[str] = set()
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                if node.module:
                    names.add(".".join([*base, node.module]))
                else:
                    names.update(".".join([*base, alias.name]) for alias in node.names)
            elif node.module:
                names.add(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return {name.split(".")[0] for name in names if name}


def violations(top: str, source: str, module: str) -> list[str]:
    return sorted(f"{module} imports {name}" for name in imported_modules(source, module)
                  if not allowed(top, name))


def modules_of(top: str) -> list[tuple[str, Path]]:
    out = []
    for path in sorted((REPO / top).rglob("*.py")):
        out.append((".".join(path.relative_to(REPO).with_suffix("").parts), path))
    return out


@pytest.mark.parametrize("top", CHECKED)
def test_no_package_imports_upwards(top: str) -> None:
    found = [v for module, path in modules_of(top)
             for v in violations(top, path.read_text(), module)]
    assert not found, f"imports against the layering of README.md: {found}"


def test_every_package_has_a_place_in_the_rule() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    installed = {pattern.rstrip("*")
                 for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert installed <= set(CHECKED)
    with_python = {path.relative_to(REPO).parts[0] for path in REPO.glob("*/**/*.py")
                   if not path.relative_to(REPO).parts[0].startswith(".")}
    assert with_python <= {*CHECKED, TESTS}, with_python - {*CHECKED, TESTS}


def test_the_readme_states_the_same_order() -> None:
    readme = (REPO / "README.md").read_text()
    order = " → ".join(", ".join(f"`{package}`" for package in layer) for layer in LAYERS)
    words = " ".join(readme.split())
    assert f"Data flows one way: {order};" in words, order
    rule = words[words.index("Data flows one way:"):].split(". ")[0]
    assert all(f"(`{top}/`)" in rule for top in ENTRY_POINTS), rule


@pytest.mark.parametrize(("top", "source", "module", "expected"), [
    ("lake", "from ingest.errors import IngestError", "lake.x", ["lake.x imports ingest"]),
    ("ingest", "import simulator.wire", "ingest.x", ["ingest.x imports simulator"]),
    ("transforms", "def f():\n    import warehouse.load", "transforms.x",
     ["transforms.x imports warehouse"]),
    ("marts", "import importlib\nimportlib.import_module('reports.daily')", "marts.x",
     ["marts.x imports reports"]),
    ("warehouse", "from sample_fleet import generate", "warehouse.x",
     ["warehouse.x imports sample_fleet"]),
    ("dags", "import trackit.cli", "dags.x", ["dags.x imports trackit"]),
    ("bench", "from sample_fleet import generate", "bench.build", []),
    ("reports", "from . import charts\nfrom ..warehouse import load", "reports.daily",
     []),
    ("marts", "from .. import dags", "marts.__init__", ["marts.__init__ imports dags"]),
    ("marts", "from . import trips", "marts.__init__", []),
    ("warehouse", "import duckdb\nfrom lake.layout import DataLayout\nimport marts",
     "warehouse.x", []),
    ("trackit", "import dags.trackit_warehouse\nimport simulator", "trackit.x", []),
])
def test_the_checker_finds_what_it_should(top: str, source: str, module: str,
                                          expected: list[str]) -> None:
    assert violations(top, source, module) == expected
