"""An ASGI layer in front of the whole served app: requests that name a path they
should not are refused before any route sees them.

Tiled 0.2.20 serves ``/ui/{path}`` by joining the raw path under its share folder,
without a containment check or a key, so ``/ui/../../etc/passwd`` returned the
file. Whatever route a Tiled version has, no request reaches it here when its path
or a query value, decoded as often as it decodes, holds a ``..`` or ``.`` segment, a
backslash, a NUL or other control character, an encoded slash, an empty segment
(outside ``/api/``, whose paths are catalog keys), or our own state folder's name, or
when it is over-long. The refusal is a tiny
fixed body; nothing of the request is echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from ..writers.model import STATE_DIR

__all__ = ["ASGIApp", "guard", "refusal"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_PATH = 2048
"""Longest request path taken (bytes, as sent)."""
MAX_QUERY = 16384
"""Longest query string taken (bytes, as sent)."""
MAX_DECODES = 4
"""A path still changing after this many percent-decodings is refused."""

_ENCODED_SEPARATORS = (b"%2f", b"%5c")  # an encoded / or \ inside a segment
_FORBIDDEN_SEGMENTS = {b"..", b".", STATE_DIR.encode()}


def _decodings(raw: bytes) -> list[bytes] | None:
    """``raw`` and each of its percent-decodings until it stops changing; ``None`` when
    it keeps changing (an attempt to outlast the check)."""
    out = [raw]
    for _ in range(MAX_DECODES):
        decoded = unquote_to_bytes(out[-1])
        if decoded == out[-1]:
            return out
        out.append(decoded)
    return None


def _bad_text(text: bytes, *, path: bool) -> bool:
    """Whether one decoding of a path (``path``) or of a query value names a place it
    must not: control characters, a backslash in a path, a ``..``/``.``/state-folder
    segment (split at ``/`` and ``\\``), an empty segment inside a path."""
    if any(c < 0x20 or c == 0x7F for c in text):
        return True
    if path and b"\\" in text:
        return True
    segments = text.replace(b"\\", b"/").split(b"/")
    if any(s.strip().lower() in _FORBIDDEN_SEGMENTS for s in segments):
        return True
    # "/a//b": an empty segment joins as an absolute path ("/ui//etc/passwd"). Tiled's
    # own client writes "/api/v1/metadata//<uid>"; its API's paths are catalog keys.
    return path and b"" in segments[1:-1] and not text.startswith(b"/api/")


def _query_parts(query: bytes) -> list[bytes]:
    """Each name and value of a query string, as sent (``+`` is a space)."""
    parts: list[bytes] = []
    for pair in query.replace(b";", b"&").split(b"&"):
        parts.extend(pair.replace(b"+", b" ").split(b"=", 1))
    return parts


def refusal(scope: Scope) -> tuple[int, bytes] | None:
    """The status and body to refuse the request of ``scope`` with, or ``None`` to let
    it through."""
    path = scope.get("path", "")
    raw = scope.get("raw_path") or path.encode("utf-8", "surrogateescape")
    query = scope.get("query_string") or b""
    if len(raw) > MAX_PATH or len(path.encode("utf-8", "surrogateescape")) > MAX_PATH:
        return 414, b"path too long"
    if len(query) > MAX_QUERY:
        return 414, b"query too long"
    if not raw.startswith(b"/") or any(sep in raw.lower() for sep in _ENCODED_SEPARATORS):
        return 404, b"not found"
    texts = _decodings(raw)
    decoded_path = _decodings(path.encode("utf-8", "surrogateescape"))
    if texts is None or decoded_path is None:
        return 404, b"not found"
    if any(_bad_text(t, path=True) for t in texts + decoded_path):
        return 404, b"not found"
    for part in _query_parts(query):
        decoded = _decodings(part)
        if decoded is None or any(_bad_text(t, path=False) for t in decoded):
            return 400, b"bad request"
    return None


async def _refuse(scope: Scope, send: Send, status: int, body: bytes) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def guard(app: ASGIApp) -> ASGIApp:
    """``app`` behind the checks of :func:`refusal` (HTTP and WebSocket requests)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refused = refusal(scope)
            if refused is not None:
                await _refuse(scope, send, *refused)
                return
        await app(scope, receive, send)

    return guarded
