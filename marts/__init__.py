"""The marts: one declaration each (``marts/<name>.py`` + ``marts/<name>.sql``).

A mart module holds ``MART``, a ``marts.model.Mart``: its SQL, columns (which give both the
DDL and the pandera schema), recompute scope, the tables it reads and its checks.
``MARTS`` collects every module of this package that declares one, so adding a mart means
adding its two files (and a test). ``build_order`` orders marts after the marts they read.
``macros.sql`` holds the SQL macros the marts and analysts use, stored in the warehouse.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from importlib.resources import files

from lake.errors import TrackitError
from marts.model import Mart

MACROS_SQL = files(__name__).joinpath("macros.sql").read_text()
"""``create or replace macro ...`` statements (``haversine_m``), run on every build."""


class MartDeclarationError(TrackitError):
    """The mart declarations contradict each other (unknown mart, cycle, duplicate name)."""


def discover(package: str) -> dict[str, Mart]:
    """Every ``MART`` declared by a module of ``package``, by name."""
    found: dict[str, Mart] = {}
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        mart = getattr(importlib.import_module(f"{package}.{info.name}"), "MART", None)
        if not isinstance(mart, Mart):
            continue
        if mart.name in found:
            raise MartDeclarationError(f"two modules of {package} declare mart {mart.name}")
        found[mart.name] = mart
    return found


def build_order(marts: Mapping[str, Mart] | Iterable[Mart]) -> list[Mart]:
    """The marts, each after every mart it reads (ties in name order)."""
    by_name = dict(marts) if isinstance(marts, Mapping) else {m.name: m for m in marts}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for mart in by_name.values():
        unknown = [name for name in mart.marts_read if name not in by_name]
        if unknown:
            raise MartDeclarationError(
                f"mart {mart.name} reads unknown mart(s) {', '.join(unknown)}: declare them "
                f"in marts/ or fix its reads"
            )
        sorter.add(mart.name, *mart.marts_read)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " → ".join(exc.args[1])
        raise MartDeclarationError(f"the marts read each other in a cycle: {cycle}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return [by_name[name] for name in order]


MARTS: dict[str, Mart] = discover(__name__)
"""Every mart of this package, by name."""

__all__ = ["MACROS_SQL", "MARTS", "Mart", "MartDeclarationError", "build_order", "discover"]
