"""What every simulated camera does last to a frame: shot noise, then the camera's dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["shot_noise_frame"]


def shot_noise_frame(
    expected: npt.NDArray[np.floating], rng: np.random.Generator, dtype: np.dtype
) -> npt.NDArray[np.generic]:
    """Poisson counts around ``expected`` (counts per pixel), as ``dtype``; for an
    integer ``dtype`` clipped to its range first."""
    counts = rng.poisson(expected)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        counts = np.clip(counts, info.min, info.max)
    frame: npt.NDArray[np.generic] = counts.astype(dtype)
    return frame
