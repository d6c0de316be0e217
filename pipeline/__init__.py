"""The wiring a user touches: `Pipeline`, simulated devices, plans and the command line."""

from ._devices import SimCamera, SimLight, SimMotor
from ._pipeline import STATE_DIR, Pipeline, embedded_catalog
from ._plans import fly_scan
from ._status import DeviceStatus

__all__ = [
    "STATE_DIR",
    "DeviceStatus",
    "Pipeline",
    "SimCamera",
    "SimLight",
    "SimMotor",
    "embedded_catalog",
    "fly_scan",
]
