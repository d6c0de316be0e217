"""The wiring a user touches: `Pipeline`, replay, simulated devices and plans.

Names are imported on first use, so ``zarrscribe --help`` and usage errors load
nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..writers.model import import_on_first_use

if TYPE_CHECKING:
    from ._pipeline import STATE_DIR, Catalog, Pipeline, embedded_catalog
    from .replay import ReplayReport, find_logs
    from .sim import DeviceStatus, SimCamera, SimLight, SimMotor, fly_scan

__all__ = [
    "STATE_DIR",
    "Catalog",
    "DeviceStatus",
    "Pipeline",
    "ReplayReport",
    "SimCamera",
    "SimLight",
    "SimMotor",
    "embedded_catalog",
    "find_logs",
    "fly_scan",
]

_WHERE = {
    "STATE_DIR": "._pipeline",
    "Catalog": "._pipeline",
    "Pipeline": "._pipeline",
    "embedded_catalog": "._pipeline",
    "ReplayReport": ".replay",
    "find_logs": ".replay",
    "DeviceStatus": ".sim",
    "SimCamera": ".sim",
    "SimLight": ".sim",
    "SimMotor": ".sim",
    "fly_scan": ".sim",
}


def __getattr__(name: str) -> Any:
    return import_on_first_use(__name__, _WHERE, name)
