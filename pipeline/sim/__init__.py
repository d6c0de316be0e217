"""Simulated devices and plans for demos and tests: they push frames and nothing else."""

from ._devices import SimCamera, SimLight, SimMotor
from ._frames import shot_noise_frame
from ._plans import fly_scan
from ._status import DeviceStatus

__all__ = ["DeviceStatus", "SimCamera", "SimLight", "SimMotor", "fly_scan", "shot_noise_frame"]
