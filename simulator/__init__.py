"""A TRACKiT-compatible simulator: a seeded fleet behind the manual's socket protocol.

Pure parts: ``fleet``/``vehicle``/``roads`` (what the vehicles do), ``frames`` (the manual's
JSON shapes), ``commands`` (replies to client commands), ``faults`` (faults on demand),
``http_auth`` (the token check), ``ground_truth`` (what really happened). Thin I/O:
``server`` (asyncio, HTTP and WebSocket on one port) and ``testing`` (run it from Python).
"""

from simulator.config import Credentials, Faults, ReplyDelays, SimulatorConfig
from simulator.testing import RunningSimulator, running_simulator, start_simulator

__all__ = [
    "Credentials",
    "Faults",
    "ReplyDelays",
    "RunningSimulator",
    "SimulatorConfig",
    "running_simulator",
    "start_simulator",
]
