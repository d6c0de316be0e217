"""Connecting to NATS with a bound: progress while it waits, one error when it gives up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ...callbacks import BusError, BusSettings

__all__ = ["connect_bus"]

logger = logging.getLogger(__name__)


async def connect_bus(
    bus: BusSettings,
    *,
    timeout: float,
    name: str,
    progress: Callable[[str], None] | None = None,
    every: float = 5.0,
) -> Any:
    """A NATS client connected to ``bus.servers``, trying for at most ``timeout`` s.

    ``progress`` is told a line every ``every`` seconds while it waits. Giving up
    raises :class:`BusError` naming the servers. Once connected the client
    reconnects by itself, without limit, whenever the connection is lost. Cancelling
    the caller (a stop) ends the attempt at once.
    """
    from nats.aio.client import Client

    async def quiet(e: Exception) -> None:
        logger.debug("NATS: %s", e)

    nc = Client()
    attempt = asyncio.ensure_future(
        nc.connect(
            bus.server_list,
            connect_timeout=max(1, min(2, int(timeout))),  # each try
            reconnect_time_wait=1,
            max_reconnect_attempts=-1,  # also keeps trying the first connection: bounded here
            error_cb=quiet,
            name=name,
        )
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        while True:
            waited = loop.time() - start
            if waited >= timeout:
                raise BusError(
                    f"NATS at {bus.servers} did not answer within {timeout:g} s; check that "
                    "nats-server runs there and is reachable (or wait longer: --connect-timeout)"
                )
            done, _ = await asyncio.wait({attempt}, timeout=min(every, timeout - waited))
            if done:
                attempt.result()
                return nc
            if progress is not None:
                progress(
                    f"waiting for NATS at {bus.servers} "
                    f"({loop.time() - start:.0f} s of {timeout:g} s)"
                )
    except BaseException:
        attempt.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await attempt
        with contextlib.suppress(Exception):
            await nc.close()
        raise
