"""Hostile URLs against a real ``zarrscribe serve``: no response ever carries a byte of a
file outside what it serves, nor the API key, whatever the route, the encoding or the key.

One server per mode (key required; ``--public``) and per catalog (embedded SQLite;
PostgreSQL with the demo's runs replayed into it): the ``web_servers`` fixture. Requests
go out as raw bytes (h11 over a socket), so no client normalises ``..`` away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.pipeline.cli._server import Served, fetch
from tests.pipeline.cli.conftest import Demo
from zarrscribe.catalog import key_file, new_api_key

MARKER = "zarrscribe-outside-secret-" + new_api_key()[:16]
"""Content of the file planted outside the base directory."""
PASSWD = b"root:x:0:0:"

FAMILIES = (
    "/ui/",
    "/ui/browse/",
    "/ui/assets/",
    "/static/",
    "/",
    "/favicon.ico/",
    "/tiled-ui-settings/",
    "/healthz/",
    "/docs/",
    "/api/v1/",
    "/api/v1/metadata/",
    "/api/v1/search/",
    "/api/v1/metadata/{uid}/",
    "/api/v1/search/{uid}/",
    "/api/v1/array/full/{uid}/primary/cam1/",
    "/api/v1/array/block/{uid}/primary/cam1/",
    "/api/v1/table/full/{uid}/primary/internal/",
    "/api/v1/table/partition/{uid}/primary/internal/",
    "/api/v1/container/full/{uid}/",
    "/api/v1/node/full/{uid}/",
    "/api/v1/asset/bytes/{uid}/primary/cam1/",
    "/api/v1/asset/manifest/{uid}/primary/cam1/",
    "/api/v1/revisions/{uid}/",
    "/api/v1/stream/single/{uid}/",
)
"""Route families: the UI, static files, the API's node paths, assets and exports."""

UPS = (
    "../",
    "..%2f",
    "..%2F",
    "%2e%2e/",
    "%2e%2e%2f",
    "%2E%2E%2F",
    ".%2e/",
    "%2e./",
    "%252e%252e%252f",
    "..%252f",
    "%25252e%25252e%25252f",
    "..\\",
    "..%5c",
    "%2e%2e%5c",
    "..%255c",
    "..%c0%af",
    "....//",
    "..;/",
    "./../",
)
"""One step up, as it is spelled to slip past a check: plain, percent-encoded, double and
triple encoded, backslashes, overlong UTF-8, doubled, with parameters."""


def _corpus(uid: str, targets: list[Path]) -> Iterator[tuple[str, str]]:
    """(route family, request target) for every way of naming each of ``targets``."""
    for template in FAMILIES:
        family = template.format(uid=uid)
        for target in targets:
            rel = str(target).lstrip("/")
            for up in UPS:
                yield template, family + up * 16 + rel
                yield template, family + up * 16 + rel + "%00.js"
                yield template, family + "x" + "/" + up * 16 + quote(rel, safe="")
            yield template, family + "/" + rel  # "//abs": joins as an absolute path
            yield template, family + quote("/" + rel, safe="")
            yield template, family + quote(quote("/" + rel, safe=""), safe="")
            yield template, family + "%00/" + rel
            yield template, family + "a/" * 1100 + "../" * 16 + rel  # over-long
            for value in ("../" * 16 + rel, "/" + rel, quote("..%2f" * 16 + rel)):
                yield template, family + "?id=1&relative_path=" + value
                yield template, family + "?slice=0&filename=" + value


@pytest.mark.parametrize(
    ("server_mode", "credentials"),
    [
        ("key required", "no key"),
        ("key required", "wrong key"),
        ("key required", "the key"),
        ("--public", "no key"),
        ("--public", "the key"),
    ],
)
def test_no_hostile_url_reaches_a_file_outside_or_the_key(
    web_servers: dict[str, Served],
    server_mode: str,
    credentials: str,
    demo: Demo,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    served = web_servers[server_mode]
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text(MARKER + "\n")
    keys = {served.key, served.server.key()} if not served.public else {served.key}
    key_path = key_file(demo.base)
    assert key_path.is_file()
    assert not key_path.is_relative_to(demo.base.resolve())  # nothing served holds the key
    headers = {
        "no key": [],
        "wrong key": [("Authorization", "Apikey " + new_api_key())],
        "the key": [("Authorization", f"Apikey {served.key}")],
    }[credentials]

    # the server works: the corpus below is not refused for being broken
    readable = served.public or credentials == "the key"
    status, _, body = fetch(served.server.port, "/api/v1/metadata/", headers)
    assert status == (200 if readable else 401), body
    assert fetch(served.server.port, "/ui/", headers)[0] == 200

    leaks, seen = [], Counter[tuple[str, int]]()
    targets = [outside, key_path, Path("/etc/passwd")]
    for family, target in _corpus(served.uids["fly_scan"], targets):
        status, head, body = fetch(served.server.port, target, headers)
        seen[family, status] += 1
        found = [MARKER.encode() in body + head, PASSWD in body]
        if any(found + [k.encode() in body for k in keys]):
            leaks.append(f"{status} {target[:200]}")
    summary = {f: dict(sorted((s, n) for (g, s), n in seen.items() if g == f)) for f in FAMILIES}
    print(f"\n{server_mode}, {credentials}: {sum(seen.values())} requests")
    for family, statuses in summary.items():
        print(f"  {family:48} {statuses}")
    assert not leaks, f"{len(leaks)} responses carry a file outside or the key: {leaks[:10]}"
