"""Which package a missing module comes from, and what to install: the one place.

The plain install is the whole single-machine product; only what is truly optional
is an extra (``pip install 'zarrscribe[EXTRA]'``).
"""

from __future__ import annotations

import importlib.util

from ._errors import ZarrscribeError

__all__ = ["EXTRAS", "MissingDependencyError", "missing_dependency", "require"]

EXTRAS = {"nats": "nats", "ophyd_async": "ophyd-async"}
"""Top-level module of each optional package -> the extra that installs it."""


class MissingDependencyError(ZarrscribeError, ModuleNotFoundError):
    """A package zarrscribe needs for what was asked is not installed; the message says
    which extra to install (or, for a package of the plain install, to reinstall)."""


def missing_dependency(error: ImportError, needed_for: str = "") -> MissingDependencyError:
    """The error to raise for ``error`` (a failed import): one line naming the package
    and the command that installs it."""
    module = (error.name or "").partition(".")[0] or "?"
    what = f"{needed_for} needs" if needed_for else "zarrscribe needs"
    extra = EXTRAS.get(module)
    if extra is not None:
        message = (
            f"{what} the optional package {module!r}, which is not installed; "
            f"install it with: pip install 'zarrscribe[{extra}]'"
        )
    else:
        message = (
            f"{what} {module!r}, which is not installed although zarrscribe depends on it; "
            "reinstall with: pip install --force-reinstall zarrscribe"
        )
    missing = MissingDependencyError(message)
    missing.name = error.name
    return missing


def require(module: str, needed_for: str) -> None:
    """Raise :class:`MissingDependencyError` at once (before anything is done) when
    ``module`` cannot be imported; cheap: nothing is imported."""
    if importlib.util.find_spec(module) is None:
        raise missing_dependency(ModuleNotFoundError(name=module), needed_for)
