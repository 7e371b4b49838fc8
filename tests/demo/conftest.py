"""The demo tests reuse the warehouse tests' hand-made core rows (``warehouse_handmade``)."""

from __future__ import annotations

import sys
from pathlib import Path

WAREHOUSE_TESTS = str(Path(__file__).resolve().parents[1] / "warehouse")
if WAREHOUSE_TESTS not in sys.path:
    sys.path.append(WAREHOUSE_TESTS)
