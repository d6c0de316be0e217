"""A camera for the benchmarks that pushes pre-made frames (not part of the package)."""

from __future__ import annotations

from typing import Any

import numpy as np

from zarrscribe.pipeline import SimCamera


class PoolCamera(SimCamera):
    """A SimCamera pushing pre-made frames (frame making is not what is measured)."""

    def __init__(self, *args: Any, pool: list[np.ndarray], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = pool
        self._i = 0

    def make_frame(self) -> np.ndarray:
        self._i += 1
        return self._pool[self._i % len(self._pool)]
