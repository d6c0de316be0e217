"""Callbacks: every decision about a run's data is taken from its documents.

Each stage is an :class:`event_model.DocumentRouter` made for one run
(:class:`PerRunRouter` sends each document to its own run's stages); they know
writers only through the protocols in :mod:`zarrscribe.writers`, and write a
run's attributes and catalog entry only through one compare-then-write step
(:func:`sync_store`, :func:`sync_entry`) shared with replay.
"""

import lazy_loader

# Every name is imported on first use; ``__init__.pyi`` spells each one once.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
