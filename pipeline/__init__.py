"""The wiring a user touches: `Pipeline`, simulated devices, plans and the command line."""

from ._devices import SimCamera, SimLight, SimMotor
from ._pipeline import STATE_DIR, Pipeline, embedded_catalog
from ._plans import fly_scan
from ._replay import ReplayReport, find_logs
from ._status import DeviceStatus

__all__ = [
    "STATE_DIR",
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
