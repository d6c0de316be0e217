"""The Tiled side: an embedded catalog or any Tiled server, registration and queries."""

from ._catalog import Catalog, Runs, RunSummary
from ._consolidator import ZarrConsolidator, install_zarr_consolidator
from ._errors import CatalogError, CatalogUnavailableError, RunNotFoundError
from ._queue import RegistrationQueue
from ._relocate import relocate_embedded
from ._serve import (
    ServerSettings,
    build_server_app,
    key_file,
    new_api_key,
    serve,
    store_api_key,
    stored_api_key,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogUnavailableError",
    "RegistrationQueue",
    "RunNotFoundError",
    "RunSummary",
    "Runs",
    "ServerSettings",
    "ZarrConsolidator",
    "build_server_app",
    "install_zarr_consolidator",
    "key_file",
    "new_api_key",
    "relocate_embedded",
    "serve",
    "store_api_key",
    "stored_api_key",
]
