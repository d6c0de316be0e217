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


def open_tree(store: Path) -> Any:
    """``xarray.open_datatree`` of a whole store, as a user calls it. zarr-python 3 warns
    once about the OME-XML file the bioformats2raw layout keeps in the ``OME`` group
    (as for every bioformats2raw dataset); any other warning fails the test."""
    import warnings

    import xarray as xr
    from zarr.errors import ZarrUserWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tree = xr.open_datatree(store, engine="zarr", consolidated=False)
    for warning in caught:
        assert issubclass(warning.category, ZarrUserWarning), warning
        assert "Object at METADATA.ome.xml is not recognized" in str(warning.message), warning
    return tree
