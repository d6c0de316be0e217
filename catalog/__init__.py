"""The Tiled side: an embedded catalog or any Tiled server, registration and queries.

Importing this package is cheap: Tiled and bluesky-tiled-plugins (which pull in
dask and xarray) are imported when a catalog is opened.
"""

from typing import Any

from ..writers.model import import_on_first_use
from ._catalog import Catalog
from ._deletions import Deletion, DeletionLog, Deletions
from ._errors import CatalogError, CatalogUnavailableError, RunNotFoundError
from ._folder import find_logs
from ._keys import key_file, new_api_key, store_api_key, stored_api_key
from ._open import embedded_catalog
from ._queue import RegistrationQueue
from ._relocate import relocate_embedded
from ._serve import ServerSettings, build_server_app, check_settings, listen, serve
from ._summary import Runs, RunSummary

_LAZY = {
    "ZarrConsolidator": "._consolidator",
    "install_zarr_consolidator": "._consolidator",
    "ZarrFramesAdapter": "._adapter",
}

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogUnavailableError",
    "Deletion",
    "DeletionLog",
    "Deletions",
    "RegistrationQueue",
    "RunNotFoundError",
    "RunSummary",
    "Runs",
    "ServerSettings",
    "ZarrConsolidator",
    "ZarrFramesAdapter",
    "build_server_app",
    "check_settings",
    "embedded_catalog",
    "find_logs",
    "install_zarr_consolidator",
    "key_file",
    "listen",
    "new_api_key",
    "relocate_embedded",
    "serve",
    "store_api_key",
    "stored_api_key",
]


def __getattr__(name: str) -> Any:
    # The consolidator and the adapter subclass bluesky-tiled-plugins' and Tiled's
    # classes: import on first use.
    return import_on_first_use(__name__, _LAZY, name)
