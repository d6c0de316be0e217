"""The ground floor: zarrscribe's run model, with no I/O of its own.

The run record (:class:`RunRecord`), the projection of a run's documents and of
what is readable on disk into store attributes and a catalog entry
(:class:`RunProjection`), the comparison of two projections, the format words,
the root of every zarrscribe error and the extra each optional package comes
from. Every room may import this one; it imports no other.
"""

import lazy_loader

# Every name is imported on first use; ``__init__.pyi`` spells each one once.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
