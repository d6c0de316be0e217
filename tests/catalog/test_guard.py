"""The guard in front of the served app, request by request (the whole server is
attacked in tests/pipeline/cli/test_serve_hostile.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zarrscribe.catalog._guard import guard, refusal


def _scope(raw: bytes, query: bytes = b"", kind: str = "http") -> dict[str, Any]:
    from urllib.parse import unquote_to_bytes

    path = unquote_to_bytes(raw).decode("utf-8", "surrogateescape")
    return {"type": kind, "path": path, "raw_path": raw, "query_string": query}


@pytest.mark.parametrize(
    "raw",
    [
        b"/ui/../../etc/passwd",
        b"/ui/..%2f..%2fetc/passwd",
        b"/ui/%2e%2e/%2e%2e/etc/passwd",
        b"/ui/%252e%252e%252fetc/passwd",
        b"/ui/%25252e%25252e%25252f%25252e%25252e%25252fetc",
        b"/ui/..\\..\\etc\\passwd",
        b"/ui/..%5c..%5cetc",
        b"/ui//etc/passwd",
        b"/static//etc/passwd",
        b"/ui/%2fetc/passwd",
        b"/ui/index.html%00.js",
        b"/ui/a%0ab",
        b"/api/v1/metadata/./x",
        b"/api/v1/metadata/.zarrscribe/catalog/catalog.db",
        b"/api/v1/metadata/.ZARRSCRIBE/x",
        b"/ui/" + b"a/" * 2000,
        b"ui/relative",
    ],
)
def test_traversal_in_any_spelling_is_refused(raw: bytes) -> None:
    refused = refusal(_scope(raw))
    assert refused is not None
    assert refused[0] in (400, 404, 414)


@pytest.mark.parametrize(
    "query",
    [
        b"relative_path=../../etc/passwd",
        b"relative_path=..%2f..%2fetc",
        b"relative_path=%252e%252e%252fetc",
        b"x=..%5c..%5cetc",
        b"filename=a%00b",
        b"path=.zarrscribe/server/api_key",
        b"q=" + b"a" * 20000,
    ],
)
def test_traversal_in_a_query_value_is_refused(query: bytes) -> None:
    assert refusal(_scope(b"/api/v1/asset/bytes/x", query)) is not None


@pytest.mark.parametrize(
    ("raw", "query"),
    [
        (b"/ui/", b""),
        (b"/ui/browse/abc/primary/internal", b""),
        (b"/ui/assets/index-lZWMzJS_.js", b""),
        (b"/api/v1/metadata/", b"fields=structure&fields=specs"),
        (b"/api/v1/search/", b"page[offset]=0&select_metadata={plan:start.plan_name}"),
        (b"/api/v1/search/", b"filter[regex][condition][pattern]=%5Cd%2B.%2A&sort=-start.time"),
        (b"/api/v1/array/full/a-b/primary/cam1", b"format=image/png&slice=0:1,::2"),
        (b"/api/v1/metadata/caf%C3%A9", b""),
        (b"/api/v1/metadata//0e1f-uid", b"recursive=true"),  # as Tiled's client writes it
        (b"/ui/?api_key=abc123", b"api_key=abc123"),
    ],
)
def test_what_clients_send_goes_through(raw: bytes, query: bytes) -> None:
    assert refusal(_scope(raw, query)) is None


def test_a_refusal_echoes_nothing_and_never_reaches_the_app() -> None:
    reached: list[str] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope.get("path", scope["type"]))

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    guarded = guard(app)
    asyncio.run(guarded(_scope(b"/ui/..%2fsecret-name"), receive, send))
    asyncio.run(guarded(_scope(b"/stream/..%2fx", kind="websocket"), receive, send))
    assert reached == []
    assert sent[0]["status"] == 404
    assert b"secret" not in sent[1]["body"]
    assert sent[2] == {"type": "websocket.close", "code": 1008}
    asyncio.run(guarded({"type": "lifespan"}, receive, send))
    asyncio.run(guarded(_scope(b"/api/v1/"), receive, send))
    assert reached == ["lifespan", "/api/v1/"]
