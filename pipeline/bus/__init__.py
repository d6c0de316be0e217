"""The document bus: catalog workers fed from NATS JetStream, and replay from the stream.

The publisher stage lives in :mod:`zarrscribe.callbacks` (it runs on the
acquisition host); this room is what runs elsewhere: :class:`Worker` registers
each run once when its stop arrives, :func:`replay_stream` re-registers every
run a stream holds. Both take the registration as a callable
``register(documents, log=...)`` (:class:`Register`), and, to register runs in
batches (one catalog transaction each), ``register_many(runs)`` (:class:`RegisterMany`).
"""

from ...callbacks import BusSettings
from ._replay import StreamReplay, replay_stream
from ._wire import Documents, IncompleteRunError, WireDocument, WireFormat, decode
from ._worker import Register, RegisterMany, Worker, WorkerSettings

__all__ = [
    "BusSettings",
    "Documents",
    "IncompleteRunError",
    "Register",
    "RegisterMany",
    "StreamReplay",
    "WireDocument",
    "WireFormat",
    "Worker",
    "WorkerSettings",
    "decode",
    "replay_stream",
]
