"""Names of ``zarrscribe.catalog`` (read by lazy_loader at import: each is imported on
first use; and by type checkers)."""

from ._adapter import ZarrFramesAdapter as ZarrFramesAdapter
from ._catalog import Catalog as Catalog
from ._consolidator import (
    ZarrConsolidator as ZarrConsolidator,
    install_zarr_consolidator as install_zarr_consolidator,
)
from ._deletions import Deletion as Deletion, DeletionLog as DeletionLog, Deletions as Deletions
from ._errors import (
    CatalogError as CatalogError,
    CatalogUnavailableError as CatalogUnavailableError,
    RunNotFoundError as RunNotFoundError,
)
from ._folder import find_logs as find_logs
from ._keys import (
    key_file as key_file,
    new_api_key as new_api_key,
    store_api_key as store_api_key,
    stored_api_key as stored_api_key,
)
from ._open import embedded_catalog as embedded_catalog
from ._queue import RegistrationQueue as RegistrationQueue
from ._relocate import relocate_embedded as relocate_embedded
from ._serve import (
    ServerSettings as ServerSettings,
    build_server_app as build_server_app,
    check_settings as check_settings,
    listen as listen,
    serve as serve,
)
from ._summary import Runs as Runs, RunSummary as RunSummary
