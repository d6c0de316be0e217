"""How a source's array is described as an OME-Zarr 0.5 image: axes, units, pixel size.

acquire-zarr 0.10 writes the image itself (``ArraySettings(is_ngff=True)``): a
group ``<source>`` whose ``zarr.json`` holds ``ome.multiscales`` (axes with
types and units, a scale transformation) and the full-resolution array at
``<source>/0``. This module only decides and checks what it is told: pure, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._errors import WriterError

__all__ = ["IMAGE_LEVEL", "SPACE_UNITS", "ImageAxes", "frame_axes", "make_image"]

IMAGE_LEVEL = "0"
"""Path of the full-resolution array inside an image group (``<source>/0``)."""

_FRAME_AXES = ("c", "z", "y", "x")
"""Names of a frame's axes, last ones first used (a 2-D frame is ``y, x``)."""

SPACE_UNITS = frozenset(
    {
        "angstrom", "attometer", "centimeter", "decimeter", "exameter", "femtometer",
        "foot", "gigameter", "hectometer", "inch", "kilometer", "megameter", "meter",
        "micrometer", "mile", "millimeter", "nanometer", "parsec", "petameter",
        "picometer", "terameter", "yard", "yoctometer", "yottameter", "zeptometer",
        "zettameter",
    }
)  # fmt: skip
"""Units OME-NGFF allows on space axes."""

_UNIT_ALIASES = {
    "um": "micrometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "micron": "micrometer",
    "nm": "nanometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "m": "meter",
    "Å": "angstrom",
}
"""Short spellings accepted for a unit, stored under the OME-NGFF name."""

DEFAULT_UNITS = "micrometer"
"""Unit of ``pixel_size`` when none is given."""


def frame_axes(ndim: int) -> tuple[str, ...]:
    """Axis names of a frame with ``ndim`` axes (``y, x`` for 2; ``c, z, y, x`` for 4)."""
    return _FRAME_AXES[-ndim:]


@dataclass(frozen=True)
class ImageAxes:
    """The OME-Zarr axes of one source's array: the frame axis ``t``, then the frame's."""

    names: tuple[str, ...]
    """Axis names, ``t`` first (``t, y, x`` for 2-D frames)."""
    units: tuple[str | None, ...]
    """Unit per axis; ``None`` where none is declared (``t``, ``c``, or no pixel size)."""
    scale: tuple[float, ...]
    """Size of one pixel per axis in its unit (1 where none is declared)."""

    @property
    def space(self) -> tuple[str, ...]:
        """Names of the space axes (``y, x`` or ``z, y, x``)."""
        return tuple(n for n in self.names if n in ("z", "y", "x"))


def _units(source: str, units: str) -> str:
    if not isinstance(units, str):
        raise WriterError(f"source {source!r}: pixel_size units {units!r} must be a string")
    unit = _UNIT_ALIASES.get(units.strip(), units.strip().lower())
    if unit not in SPACE_UNITS:
        raise WriterError(
            f"source {source!r}: pixel_size units {units!r} are not an OME-NGFF space unit; "
            "use one of 'micrometer', 'nanometer', 'millimeter', ... (or 'um', 'nm', 'mm')"
        )
    return unit


def _sizes(
    source: str, pixel_size: float | Sequence[float], space: tuple[str, ...]
) -> list[float]:
    values = [pixel_size] * len(space) if isinstance(pixel_size, int | float) else pixel_size
    try:
        sizes = [float(s) for s in values if not isinstance(s, bool)]
    except (TypeError, ValueError):
        sizes = []
    if len(sizes) != len(space) or not all(math.isfinite(s) and s > 0 for s in sizes):
        raise WriterError(
            f"source {source!r}: pixel_size {pixel_size!r} must be one positive number or "
            f"{len(space)} of them, for axes {', '.join(space)}"
        )
    return sizes


def make_image(
    source: str,
    frame_shape: tuple[int, ...],
    pixel_size: float | Sequence[float] | None,
    units: str | None,
) -> ImageAxes | None:
    """Check a source's pixel size and return its image axes; ``None`` if it cannot be an image.

    OME-NGFF images need two or three space axes: a source of 1-D frames is
    written as a plain array. ``pixel_size`` is one number for every space axis or
    one per space axis (``y, x`` or ``z, y, x``); ``units`` defaults to micrometer
    and needs a ``pixel_size``.
    """
    frame = frame_axes(len(frame_shape))
    names = ("t", *frame)
    space = tuple(n for n in frame if n in ("z", "y", "x"))
    if pixel_size is None:
        if units is not None:
            raise WriterError(
                f"source {source!r}: units {units!r} given without a pixel_size; "
                "give pixel_size too (one number, or one per axis)"
            )
        if len(space) < 2:
            return None
        return ImageAxes(names, (None,) * len(names), (1.0,) * len(names))
    sizes = dict(zip(space, _sizes(source, pixel_size, space), strict=True))
    unit = _units(source, DEFAULT_UNITS if units is None else units)
    if len(space) < 2:
        return None
    return ImageAxes(
        names,
        tuple(unit if n in sizes else None for n in names),
        tuple(sizes.get(n, 1.0) for n in names),
    )
