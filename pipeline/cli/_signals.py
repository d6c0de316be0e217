"""How every verb stops on SIGINT and SIGTERM: at once, cleanly, with one line.

:func:`install` makes SIGTERM raise :class:`Interrupted` in the main thread, the way
Python raises ``KeyboardInterrupt`` for SIGINT, so both unwind the same way
(``finally`` blocks close what the verb opened) and ``main`` prints one line and
exits with 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process a signal
ended. A verb that must finish something first (the worker's registration, the
demo's run) takes the signals for itself with :func:`signals_to` and raises
:class:`Interrupted` once it is done.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "describe", "exit_code", "install", "signals_to", "stopped_by"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A verb stopped by signal ``signum``; ``detail`` says what was done (or left)."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signum, detail)
        self.signum = signum
        self.detail = detail


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install() -> None:
    """SIGTERM raises :class:`Interrupted` in the main thread (SIGINT: KeyboardInterrupt)."""
    signal.signal(signal.SIGTERM, _raise)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for SIGINT (also a plain KeyboardInterrupt), 143
    for SIGTERM."""
    return 128 + stopped_by(interrupt)


def stopped_by(interrupt: KeyboardInterrupt) -> int:
    return interrupt.signum if isinstance(interrupt, Interrupted) else signal.SIGINT


def describe(interrupt: KeyboardInterrupt) -> str:
    """``interrupted by SIGTERM`` and what the verb said it did."""
    name = signal.Signals(stopped_by(interrupt)).name
    detail = interrupt.detail if isinstance(interrupt, Interrupted) else ""
    return f"interrupted by {name}" + (f"; {detail}" if detail else "")


@contextmanager
def signals_to(handler: Callable[[int], None]) -> Iterator[None]:
    """Call ``handler(signum)`` on SIGINT and SIGTERM inside the block (it decides how
    the verb stops); the handlers before are restored after."""
    before = {sig: signal.signal(sig, lambda signum, _: handler(signum)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, previous in before.items():
            signal.signal(sig, previous)
