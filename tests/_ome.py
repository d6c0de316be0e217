"""Opening an OME-Zarr image as viewers do (ome-zarr-py's Reader), for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ome_zarr.io import parse_url
from ome_zarr.reader import Multiscales, Reader


def ome_image(path: Path) -> Any:
    """The image node ome-zarr-py reads at ``path`` (a ``<store>/<device>`` group);
    fails when it sees no image there."""
    location = parse_url(str(path))
    assert location is not None, f"ome-zarr sees nothing at {path}"
    (node, *_) = list(Reader(location)())
    assert any(isinstance(spec, Multiscales) for spec in node.specs), node.specs
    return node
