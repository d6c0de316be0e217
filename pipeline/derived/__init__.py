"""Derived sources: frames computed from a device's frames (a running median of a
camera, say), written into the same store through the same shared writer, and
announced by the RunEngine in the run's documents like any device's array.

Run a plan with them through :func:`with_derived`::

    median = RunningMedian("cam1", writer, shape=(512, 512), dtype="uint16", window=8)
    RE(with_derived(bp.count([cam1], num=64), [median]))
"""

from ._median import RunningMedian, median_dtype, median_of
from ._plans import with_derived
from ._producer import DerivedSource

__all__ = ["DerivedSource", "RunningMedian", "median_dtype", "median_of", "with_derived"]
