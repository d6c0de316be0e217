"""Server-side exporters: a run's documents as JSON-seq, a run or stream as HDF5.

Tiled's stock HDF5 exporter copies node metadata into HDF5 attributes as they
are, and refuses (HTTP 406) as soon as one value is a mapping or ``None`` --
which every run's ``start`` and ``stop`` are. The exporter here writes what HDF5
attributes can hold as is and every other value as its JSON text, so a run
exports with all its metadata.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["h5_attribute", "hdf5_exporter", "serialization_registry"]

RUN_SPECS = ("BlueskyRun", "BlueskyEventStream")
"""Node specs whose HDF5 export goes through :func:`hdf5_exporter`."""


def h5_attribute(value: Any) -> Any:
    """``value`` as an HDF5 attribute: strings, numbers, booleans and flat lists of
    one kind of them as they are; anything else (mappings, ``None``, mixed or nested
    lists) as JSON text."""
    if isinstance(value, str | bool | int | float | np.generic):
        return value
    if isinstance(value, list | tuple) and value:
        kinds = {type(v) for v in value}
        if kinds <= {int, float} or kinds == {str} or kinds == {bool}:
            return list(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    return json.dumps(value, default=str, sort_keys=True)


def _set_attributes(attrs: Any, metadata: Mapping[str, Any]) -> None:
    for key, value in metadata.items():
        attrs[str(key)] = h5_attribute(value)


async def _children(node: Any) -> list[tuple[str, Any]]:
    if hasattr(node, "items_range"):
        return list(await node.items_range())
    return list(node.items())


async def _write(group: Any, node: Any, filter_for_access: Any) -> None:
    """Write ``node``'s children below ``group``: containers as groups, arrays as
    datasets, tables as a group with one dataset per column."""
    import h5py
    from tiled.structures.core import StructureFamily
    from tiled.utils import ensure_awaitable

    filtered = await filter_for_access(node)
    for key, child in await _children(filtered):
        family = child.structure_family
        if family == StructureFamily.array:
            data = await ensure_awaitable(child.read)
            dataset = group.create_dataset(key, data=np.asarray(data))
            _set_attributes(dataset.attrs, child.metadata())
        elif family == StructureFamily.table:
            sub = group.create_group(key)
            _set_attributes(sub.attrs, child.metadata())
            frame = await ensure_awaitable(child.read)
            for column in frame.columns:
                values = frame[column].to_numpy()
                if values.dtype == object:  # strings, or values of mixed kinds
                    text = [str(h5_attribute(v)) for v in values]
                    sub.create_dataset(str(column), data=text, dtype=h5py.string_dtype())
                else:
                    sub.create_dataset(str(column), data=values)
        elif family == StructureFamily.container:
            sub = group.create_group(key)
            _set_attributes(sub.attrs, child.metadata())
            await _write(sub, child, filter_for_access)
        # other structure families (sparse, awkward) are left out of the file


async def hdf5_exporter(mimetype: str, node: Any, metadata: Any, filter_for_access: Any) -> Any:
    """Everything below ``node`` as one HDF5 file, all metadata included (see module)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, mode="w") as file:
        _set_attributes(file.attrs, metadata)
        await _write(file, node, filter_for_access)
    return buffer.getbuffer()


def serialization_registry() -> Any:
    """Tiled's default serializers plus the JSON-seq document exporter of
    bluesky-tiled-plugins (``run.documents()``) and :func:`hdf5_exporter` for runs
    and their streams."""
    from bluesky_tiled_plugins.exporters import json_seq_exporter
    from tiled.media_type_registration import default_serialization_registry as registry

    registry.register("BlueskyRun", "application/json-seq", json_seq_exporter)
    for spec in RUN_SPECS:
        registry.register(spec, "application/x-hdf5", hdf5_exporter)
    return registry
