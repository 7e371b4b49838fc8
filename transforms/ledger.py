"""The ledger of raw files already transformed, and the lock that serialises runs.

``DATA/state/transform/ledger.json`` maps each processed raw file (path relative to
``DATA``) to the number of frames it held. It is rewritten atomically after all outputs of
a batch are published, so a crash in between leaves the batch unrecorded and the next run
redoes it (its outputs are deterministic, the redo replaces them with identical files).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.locks import hold_lock
from lake.storage import is_disk_full, publishing

LEDGER_VERSION = 1


def ledger_dir(layout: DataLayout) -> Path:
    return layout.state / "transform"


def ledger_path(layout: DataLayout) -> Path:
    return ledger_dir(layout) / "ledger.json"


def load_ledger(layout: DataLayout) -> dict[str, int]:
    """Raw files already transformed (relative path → frames)."""
    path = ledger_path(layout)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): int(v) for k, v in data["files"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise TrackitError(f"transform ledger {path} is unreadable: {exc}") from None


def save_ledger(layout: DataLayout, files: dict[str, int]) -> None:
    """Replace the ledger atomically with ``files``."""
    body = json.dumps({"version": LEDGER_VERSION, "files": dict(sorted(files.items()))},
                      indent=0)
    try:
        with publishing(ledger_path(layout)) as tmp:
            tmp.write_text(body)
    except OSError as exc:
        if is_disk_full(exc):
            raise TrackitError(
                f"no space left on device writing {ledger_dir(layout)}: free space there and "
                "rerun `trackit transform` (the last batch was not recorded and is redone)"
            ) from None
        raise


@contextmanager
def transform_lock(layout: DataLayout) -> Iterator[None]:
    """Hold the transform lock; refuse (TrackitError) if another run holds it."""
    ledger_dir(layout).mkdir(parents=True, exist_ok=True)
    busy = f"another transform is running on {layout.root} (lock held)"
    with hold_lock(ledger_dir(layout) / "lock", wait_s=0, busy_message=busy):
        yield
