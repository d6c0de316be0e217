"""`SoftCamera`: an ophyd-async camera that pushes numpy frames from a thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from bluesky.run_engine import call_in_bluesky_event_loop
from ophyd_async.core import (
    DetectorAcquireLogic,
    DetectorTriggerLogic,
    SignalR,
    soft_signal_rw,
)

from ..sim import shot_noise_frame
from ._data_logic import ZarrDataLogic
from ._detector import ZarrDetector

if TYPE_CHECKING:
    import numpy.typing as npt

    from ...writers import ControllableDataWriter

__all__ = ["FrameSource", "SoftCamera", "SpotFrames", "demo_detectors"]

FrameSource = Callable[[int], "npt.NDArray[np.generic]"]
"""Makes frame number ``i`` (called on the camera's thread)."""


class SpotFrames:
    """Frames of a gaussian spot drifting over a sloped background, with shot noise."""

    def __init__(self, shape: tuple[int, int], dtype: npt.DTypeLike, seed: int | None = None):
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self._y = np.arange(shape[0], dtype=np.float32)
        self._x = np.arange(shape[1], dtype=np.float32)

    def __call__(self, i: int) -> npt.NDArray[np.generic]:
        h, w = self.shape
        y0 = h * (0.5 + 0.3 * np.sin(0.3 * i))
        x0 = w * (0.5 + 0.3 * np.cos(0.2 * i))
        sigma = max(2.0, min(h, w) / 16)
        gy = np.exp(-((self._y - y0) ** 2) / (2 * sigma**2))
        gx = np.exp(-((self._x - x0) ** 2) / (2 * sigma**2))
        image = 20.0 + 0.02 * self._x[None, :] + 200.0 * np.outer(gy, gx)
        return shot_noise_frame(image, self._rng, self.dtype)


class _Pusher:
    """Pushes ``num`` frames, one per ``period`` seconds, from its own thread."""

    def __init__(
        self,
        name: str,
        data_logic: ZarrDataLogic,
        frames: FrameSource,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.name = name
        self.num = 1
        self.period = 0.0
        self._data_logic = data_logic
        self._frames = frames
        self._on_failure = on_failure
        self._next_frame = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self._stop.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, args=(self.num, self.period), name=f"{self.name}-frames", daemon=True
        )
        self._thread.start()

    def _run(self, num: int, period: float) -> None:
        pushed = 0
        next_time = time.monotonic()
        try:
            while (num == 0 or pushed < num) and not self._stop.is_set():
                if period:
                    next_time += period
                    self._stop.wait(max(0.0, next_time - time.monotonic()))
                frame = self._frames(self._next_frame)
                self._next_frame += 1
                # after the run ended (a failed or aborted run) frames are dropped, counted
                self._data_logic.write_frame(frame)
                pushed += 1
        except BaseException as e:
            self._error = e
            self._on_failure(e)

    async def wait(self) -> None:
        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join)
        if self._error is not None:
            raise self._error

    async def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join)


class _SoftTriggerLogic(DetectorTriggerLogic):
    def __init__(self, pusher: _Pusher, exposure: SignalR[float]) -> None:
        self._pusher = pusher
        self._exposure = exposure

    async def prepare_internal(self, num: int, livetime: float, deadtime: float) -> None:
        self._pusher.num = num
        self._pusher.period = (livetime or await self._exposure.get_value()) + deadtime


class _SoftAcquireLogic(DetectorAcquireLogic):
    def __init__(self, pusher: _Pusher) -> None:
        self._pusher = pusher

    async def start_acquiring(self) -> None:
        self._pusher.start()

    async def wait_for_idle(self) -> None:
        await self._pusher.wait()

    async def ensure_stopped(self) -> None:
        await self._pusher.stop()


class SoftCamera(ZarrDetector):
    """A soft ophyd-async camera: numpy frames pushed from a thread into a shared writer.

    Frames are made and written on the camera's own thread, never on the
    RunEngine's event loop (the writer may block while the disk catches up).

    Parameters
    ----------
    name:
        Device name; also its data key and array key.
    writer:
        The shared writer it pushes frames into.
    shape, dtype:
        Frame shape and dtype.
    exposure:
        Seconds per frame when the plan's ``TriggerInfo.livetime`` is 0.
    frames:
        Makes frame ``i``; default :class:`SpotFrames`.
    seed:
        Seed of the default frame source's noise.
    """

    def __init__(
        self,
        name: str,
        writer: ControllableDataWriter,
        *,
        shape: tuple[int, int] = (256, 256),
        dtype: str = "uint16",
        exposure: float = 0.005,
        frames: FrameSource | None = None,
        seed: int | None = None,
    ) -> None:
        self.exposure = soft_signal_rw(float, initial_value=exposure, units="s")
        self.gain = soft_signal_rw(float, initial_value=1.0)
        data_logic = ZarrDataLogic(writer, dtype, shape)
        pusher = _Pusher(name, data_logic, frames or SpotFrames(shape, dtype, seed), self.fail)
        super().__init__(
            data_logic,
            trigger_logic=_SoftTriggerLogic(pusher, self.exposure),
            acquire_logic=_SoftAcquireLogic(pusher),
            config_signals=[self.exposure, self.gain],
            name=name,
        )


def demo_detectors(writer: ControllableDataWriter) -> list[SoftCamera]:
    """Two connected soft ophyd-async cameras sharing ``writer`` (for ``demo --ophyd-async``).

    Create the RunEngine first: the cameras connect on its event loop.
    """
    cameras = [
        SoftCamera("oa_cam1", writer, shape=(128, 160), dtype="uint16", seed=11),
        SoftCamera("oa_cam2", writer, shape=(96, 96), dtype="uint8", seed=12),
    ]
    for camera in cameras:
        call_in_bluesky_event_loop(camera.connect())
    return cameras
