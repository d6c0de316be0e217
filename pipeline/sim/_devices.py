"""Simulated devices for demos and tests: they push frames and nothing else.

The camera follows the seed's device side: ``prepare`` registers with the
writer (and opens it, so ``describe_collect`` can name the store), ``kickoff``
starts pushing frames, step scans open at ``stage``/``trigger``. Where the data
goes and what is written beside it is left to the pipeline's callbacks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ...writers import ControllableDataWriter, PrepareInfo
from ._frames import shot_noise_frame
from ._status import DeviceStatus

if TYPE_CHECKING:
    from bluesky.protocols import Reading, StreamAsset
    from event_model.documents import DataKey

__all__ = ["SimCamera", "SimLight", "SimMotor"]


def _config_key(source: str, value: Any) -> DataKey:
    if isinstance(value, str):
        return {"source": source, "dtype": "string", "shape": []}
    if isinstance(value, bool):
        return {"source": source, "dtype": "boolean", "shape": []}
    if isinstance(value, int):
        return {"source": source, "dtype": "integer", "shape": []}
    if isinstance(value, list | tuple):
        return {"source": source, "dtype": "array", "shape": [len(value)]}
    return {"source": source, "dtype": "number", "shape": []}


class _Configured:
    """Configuration held as plain values, read back as bluesky readings."""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.parent = None
        self._config = dict(config)

    def __repr__(self) -> str:
        # bluesky records repr(device) in a run's plan_args: the name says which one.
        return self.name

    def configure(self, **values: Any) -> None:
        """Change configuration values (as a user would before a run)."""
        unknown = set(values) - set(self._config)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown configuration {sorted(unknown)}; "
                f"known: {sorted(self._config)}"
            )
        self._config.update(values)

    def read_configuration(self) -> dict[str, Reading[Any]]:
        now = time.time()
        return {
            f"{self.name}-{k}": {"value": v, "timestamp": now} for k, v in self._config.items()
        }

    def describe_configuration(self) -> dict[str, DataKey]:
        return {
            f"{self.name}-{k}": _config_key(f"sim://{self.name}/{k}", v)
            for k, v in self._config.items()
        }


class SimCamera(_Configured):
    """A camera that pushes realistic frames (drifting spots on a background, shot noise).

    Parameters
    ----------
    name:
        Device name; also its array key and data key.
    writer:
        The shared writer it pushes frames into.
    shape, dtype:
        Frame shape and dtype.
    exposure:
        Seconds per frame (the camera sleeps that long per frame).
    pixel_size:
        Size of a pixel on the sample: one number, or ``(y, x)``. Declared in the
        configuration (key ``pixel_size``, with ``pixel_size_units``) and passed to
        the writer, which writes it as the scale of the OME-Zarr image. ``None``
        declares nothing (scale 1, no unit).
    pixel_size_units:
        Unit of ``pixel_size`` (an OME-NGFF space unit).
    """

    def __init__(
        self,
        name: str,
        writer: ControllableDataWriter,
        *,
        shape: tuple[int, int] = (256, 256),
        dtype: str = "uint16",
        exposure: float = 0.005,
        seed: int | None = None,
        pixel_size: float | tuple[float, float] | None = None,
        pixel_size_units: str = "micrometer",
    ) -> None:
        config: dict[str, Any] = {
            "exposure": exposure,
            "shape": list(shape),
            "dtype": dtype,
            "gain": 1.0,
        }
        if pixel_size is not None:
            config["pixel_size"] = (
                [float(pixel_size)] * 2
                if isinstance(pixel_size, int | float)
                else [float(s) for s in pixel_size]
            )
            config["pixel_size_units"] = pixel_size_units
        super().__init__(name, config)
        self._writer = writer
        self._shape = tuple(shape)
        self._dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self._frame_number = 0
        self._capacity = 0
        self._data_keys: dict[str, DataKey] = {}
        self._registered = False
        self._acquiring: threading.Thread | None = None
        self._stop = threading.Event()
        self._complete = DeviceStatus.finished()
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        self._grid = (yy.astype(np.float32), xx.astype(np.float32))
        self._spots = self._rng.uniform(0.1, 0.9, size=(6, 2)) * np.array(shape)

    @property
    def writer_logic(self) -> ControllableDataWriter:
        """The writer this camera pushes into (discovered by presenters and callbacks)."""
        return self._writer

    # ----------------------------------------------------------------- frames
    def make_frame(self) -> np.ndarray:
        """One frame: gaussian spots drifting on a sloped background, Poisson noise."""
        yy, xx = self._grid
        t = self._frame_number
        image = 100.0 + 0.05 * xx
        for i, (y0, x0) in enumerate(self._spots):
            y = y0 + 3.0 * np.sin(0.3 * t + i)
            x = x0 + 3.0 * np.cos(0.2 * t + i)
            image = image + 800.0 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * (4.0 + i) ** 2))
        image *= float(self._config["gain"])
        frame = shot_noise_frame(image, self._rng, self._dtype)
        self._frame_number += 1
        return frame

    def _push(self, n: int | None, *, flying: bool = False) -> None:
        """Push ``n`` frames (``None``: until stopped). A fly scan's pushing
        (``flying``) stops quietly once the pipeline closed the writer at the run's
        stop (the run ended: another device failed, or it was aborted), so that the
        run's own failure is the one the user sees."""
        exposure = float(self._config["exposure"])
        pushed = 0
        while (n is None or pushed < n) and not self._stop.is_set():
            time.sleep(exposure)
            if flying and not self._writer.is_open:
                return
            try:
                self._writer.write_frame(self.name, self.make_frame())
            except Exception:
                if flying and not self._writer.is_open:  # closed while the frame was on its way
                    return
                raise
            pushed += 1

    # ----------------------------------------------------------------- set-up
    def _register(self, capacity: int) -> None:
        self._writer.register(
            self.name,
            self._dtype,
            self._shape,
            capacity,
            pixel_size=self._config.get("pixel_size"),
            units=self._config.get("pixel_size_units"),
        )
        self._capacity = capacity
        self._registered = True

    def _open(self) -> None:
        self._data_keys = self._writer.open(self.name)

    def stage(self) -> DeviceStatus:
        """Register with the writer (unbounded): every detector of a step scan is
        staged before the first frame, when the store's arrays are fixed."""
        self._data_keys = {}
        try:
            self._register(0)
        except Exception as e:
            return DeviceStatus.failed(e)
        return DeviceStatus.finished()

    def unstage(self) -> DeviceStatus:
        self._stop.set()
        if self._acquiring is not None:
            self._acquiring.join()
        self._acquiring = None
        self._stop.clear()
        self._registered = False
        self._data_keys = {}
        return DeviceStatus.finished()

    def prepare(self, value: PrepareInfo) -> DeviceStatus:
        """Register with the writer for ``value.capacity`` frames and open the store."""
        try:
            self._register(0 if value.write_forever else value.capacity)
            self._open()
        except Exception as e:
            return DeviceStatus.failed(e)
        return DeviceStatus.finished()

    # ----------------------------------------------------------------- fly scans
    def kickoff(self) -> DeviceStatus:
        """Start pushing frames on a thread: ``capacity`` of them, or until stopped."""
        try:
            self._open()
        except Exception as e:
            return DeviceStatus.failed(e)
        self._complete = DeviceStatus()
        n = self._capacity or None

        def run() -> None:
            try:
                self._push(n, flying=True)
            except Exception as e:
                self._complete.set_exception(e)
            else:
                self._complete.set_finished()

        self._acquiring = threading.Thread(target=run, name=f"{self.name}-frames", daemon=True)
        self._acquiring.start()
        return DeviceStatus.finished()

    def complete(self) -> DeviceStatus:
        """Done when every frame was pushed."""
        return self._complete

    def stop(self, *, success: bool = True) -> None:
        self._stop.set()

    def describe_collect(self) -> dict[str, DataKey]:
        return dict(self._data_keys)

    def get_index(self) -> int:
        return self._writer.get_indices_written(self.name)

    def collect_asset_docs(self, index: int | None = None) -> Iterator[StreamAsset]:
        if index is None:
            index = self._writer.get_indices_written(self.name)
        yield from self._writer.collect_stream_docs(self.name, index)

    # ----------------------------------------------------------------- step scans
    def trigger(self) -> DeviceStatus:
        """Acquire one frame (register and open at the first trigger of a run)."""
        try:
            if not self._registered:
                self._register(0)
            if not self._data_keys:
                self._open()
            self._push(1)
        except Exception as e:
            return DeviceStatus.failed(e)
        return DeviceStatus.finished()

    def describe(self) -> dict[str, DataKey]:
        if self._data_keys:
            return dict(self._data_keys)
        return {
            self.name: {
                "source": f"sim://{self.name}",
                "shape": list(self._shape),
                "dtype": "array",
                "dtype_numpy": self._dtype.str,
                "external": "STREAM:",
            }
        }

    def read(self) -> dict[str, Reading[Any]]:
        return {}  # the frames are external: StreamDatum documents point at them


class SimMotor(_Configured):
    """A motor that moves instantly; configuration: velocity and units."""

    def __init__(self, name: str, *, velocity: float = 1.0, units: str = "mm") -> None:
        super().__init__(name, {"velocity": velocity, "units": units})
        self._position = 0.0

    def set(self, value: float) -> DeviceStatus:
        self._position = float(value)
        return DeviceStatus.finished()

    @property
    def position(self) -> float:
        return self._position

    def read(self) -> dict[str, Reading[Any]]:
        return {self.name: {"value": self._position, "timestamp": time.time()}}

    def describe(self) -> dict[str, DataKey]:
        return {
            self.name: {
                "source": f"sim://{self.name}",
                "dtype": "number",
                "shape": [],
                "units": str(self._config["units"]),
            }
        }


class SimLight(_Configured):
    """A light source with configuration (wavelength, power) and no writer."""

    def __init__(self, name: str, *, wavelength_nm: float = 488.0, power_mw: float = 5.0) -> None:
        super().__init__(name, {"wavelength_nm": wavelength_nm, "power_mw": power_mw})

    def read(self) -> dict[str, Reading[Any]]:
        return {
            f"{self.name}-intensity": {
                "value": float(self._config["power_mw"]) * 0.98,
                "timestamp": time.time(),
            }
        }

    def describe(self) -> dict[str, DataKey]:
        return {
            f"{self.name}-intensity": {
                "source": f"sim://{self.name}/intensity",
                "dtype": "number",
                "shape": [],
            }
        }
