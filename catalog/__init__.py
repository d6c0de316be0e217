"""The Tiled side: an embedded catalog or any Tiled server, registration and queries."""

from ._catalog import Catalog, RunSummary
from ._consolidator import ZarrConsolidator, install_zarr_consolidator
from ._errors import CatalogError, CatalogUnavailableError, RunNotFoundError
from ._queue import RegistrationQueue
from ._relocate import relocate_embedded

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogUnavailableError",
    "RegistrationQueue",
    "RunNotFoundError",
    "RunSummary",
    "ZarrConsolidator",
    "install_zarr_consolidator",
    "relocate_embedded",
]
