"""Writers: devices push frames; writers stream them into Zarr v3 stores.

Nothing here knows about bluesky callbacks or Tiled.

Names are imported on first use: the command line's ``--help`` loads none of them.
"""

import lazy_loader

# Every name is imported on first use; ``__init__.pyi`` spells each one once.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
