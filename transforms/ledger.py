"""The lock that serialises transform runs on one data directory.

The ledger of raw files already transformed is a warehouse table
(``meta.transformed_files``, ``transforms.core_store``), committed with each batch; this
lock keeps two transforms from routing the same raw files at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lake.layout import DataLayout
from lake.locks import hold_lock


def ledger_dir(layout: DataLayout) -> Path:
    return layout.state / "transform"


@contextmanager
def transform_lock(layout: DataLayout) -> Iterator[None]:
    """Hold the transform lock; refuse (TrackitError) if another run holds it."""
    ledger_dir(layout).mkdir(parents=True, exist_ok=True)
    busy = f"another transform is running on {layout.root} (lock held)"
    with hold_lock(ledger_dir(layout) / "lock", wait_s=0, busy_message=busy):
        yield
