"""Writing a planned entry to a Tiled server with the fewest requests.

``TiledWriter`` makes ~15 requests per run (it streams: nodes first, then data
source updates, metadata patches and stream closes). A finished run's entry is
known in full beforehand, so each node is created once with its final
metadata and data source: one request per node, plus one per table append, plus
one that adds zarrscribe's metadata last (the mark of a complete entry).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..writers.model import ATTRIBUTES_KEY
from ._plan import NodePlan

__all__ = ["write_http", "write_tiled_writer"]


def write_http(runs: Any, plan: NodePlan) -> None:
    """Create run ``plan`` under the container client ``runs``."""
    from tiled.structures.core import Spec

    def specs(node: NodePlan) -> list[Any]:
        return [Spec(s["name"], version=s["version"]) for s in node.specs]

    # zarrscribe's own metadata goes last: an entry cut short by a killed writer
    # lacks it, so a later comparison with the run's projection re-registers it.
    first = {k: v for k, v in plan.metadata.items() if k != ATTRIBUTES_KEY}
    root = runs.create_container(key=plan.key, metadata=first, specs=specs(plan))
    for stream in plan.children:
        node = root.create_container(key=stream.key, metadata=stream.metadata, specs=specs(stream))
        node = getattr(node, "base", node)
        for child in stream.children:
            if child.table:
                table = node.create_appendable_table(
                    schema=child.data_source.structure.arrow_schema_decoded,
                    key=child.key,
                    metadata=child.metadata,
                    specs=specs(child),
                )
                for rows in child.table:
                    table.append_partition(0, rows)
            else:
                node.new(
                    key=child.key,
                    structure_family=child.data_source.structure_family,
                    data_sources=[child.data_source],
                    metadata=child.metadata,
                    specs=specs(child),
                )
    if first != plan.metadata:
        root.update_metadata(metadata=dict(plan.metadata), drop_revision=True)


def write_tiled_writer(
    runs: Any, docs: Iterable[tuple[str, dict[str, Any]]], metadata: Any
) -> None:
    """Register a run under ``runs`` through bluesky-tiled-plugins' ``TiledWriter`` itself
    (for what the plan does not model), with ``metadata`` merged in last.

    Unlike the plan, ``TiledWriter`` files every frame of a StreamResource under the
    stream of its first datum; replay notices (see ``Catalog.layout``)."""
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
    from tiled.client.container import Container

    from ._consolidator import install_zarr_consolidator

    install_zarr_consolidator()  # its registry is what picks our consolidator
    writer = TiledWriter(runs)
    for name, doc in docs:
        writer(name, doc)
    (uid,) = [doc["uid"] for name, doc in docs if name == "start"]
    Container.__getitem__(runs, uid).update_metadata(metadata=metadata, drop_revision=True)
