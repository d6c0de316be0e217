"""The Tiled side: an embedded catalog or any Tiled server, registration and queries.

Importing this package is cheap: Tiled and bluesky-tiled-plugins (which pull in
dask and xarray) are imported when a catalog is opened.
"""

import lazy_loader

# Every name is imported on first use; ``__init__.pyi`` spells each one once.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
