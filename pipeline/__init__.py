"""The wiring a user touches: `Pipeline`, replay, simulated devices and plans.

Names are imported on first use, so ``zarrscribe --help`` and usage errors load
nothing heavy.
"""

import lazy_loader

# Every name is imported on first use; ``__init__.pyi`` spells each one once.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
