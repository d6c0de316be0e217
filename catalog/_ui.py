"""Tiled's bundled web UI, served by us: files only from its folder, the API key taken
once from the link ``zarrscribe serve`` prints, runs listed so a person can tell them
apart.

- ``/ui/...`` is answered here, never by Tiled's own route (which joins the raw path
  under its share folder unchecked): a file is served only when its resolved path is
  inside the UI folder; any other path gets ``index.html`` (the UI routes itself).
- ``/ui/...?api_key=KEY`` with the server's key sets Tiled's ``tiled_api_key`` cookie
  (HttpOnly, SameSite=Lax) and redirects to the same page without the key; the UI then
  works. Without a valid cookie ``index.html`` carries a note saying how to get in.
- ``/tiled-ui-settings``: Tiled's defaults plus columns for catalogs of bluesky runs
  (scan, plan, start time, status). The run list's search requests, recognised by the
  columns' projection, get those columns' metadata paths as sort keys, and newest
  first when the UI asks for no order.
- Fixes to the bundle as it is served, where it disagrees with its own server (see
  :data:`PATCHES`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ._guard import ASGIApp, Receive, Scope, Send

__all__ = ["RUN_COLUMNS", "WebUI", "run_list_projection"]

API_KEY_COOKIE = "tiled_api_key"
"""The cookie Tiled's server reads an API key from."""

RUN_COLUMNS = (
    # field, header, JMESPath into the run's metadata, sort key (a metadata path)
    ("scan_id", "Scan", "start.scan_id", "start.scan_id"),
    ("plan", "Plan", "start.plan_name", "start.plan_name"),
    ("started", "Started", "zarrscribe.started || start.time", "start.time"),
    ("status", "Status", "zarrscribe.exit_status || stop.exit_status", "zarrscribe.exit_status"),
)
"""The columns of the web UI's list of runs."""

NEWEST_FIRST = "-start.time"

PATCHES = (
    # tiled#1378: the table view splits application/json-seq on newlines only, while
    # the server starts each row with RS (0x1E) as RFC 7464 says: "No rows". Split on
    # both, so the rows show and every other client still gets RFC 7464.
    ("overview-table-", re.compile(re.escape(".data.split(`\n`)")), r".data.split(/[\\n\\x1e]/)"),
    # The list of a node's children finds the columns configured for a spec with
    # specs.includes(name), while the server gives each spec as {name, version}: no
    # configured columns would ever apply.
    (
        "overview-generic-node-",
        re.compile(r"(\w+)\.item\.data\.attributes\.specs\.includes\((\w+)\.spec\)"),
        r"(\1.item.data.attributes.specs||[]).some(x=>(x&&x.name||x)===\2.spec)",
    ),
    # ... and reads each column at metadata[field], while the server returns the
    # projection the UI asked for at metadata.selected[field]: every column empty.
    (
        "overview-generic-node-",
        re.compile(r"(\w+)\.attributes\.metadata\[(\w+)\.field\]"),
        r"((\1.attributes.metadata||{}).selected||{})[\2.field]",
    ),
)
"""Fixes to the bundled UI of Tiled 0.2.20, applied to the files as they are served:
(file name prefix, text or pattern, replacement). A version whose files differ is
served as it is (the web UI tests then fail)."""

HINT = (
    '<div id="zarrscribe-key-hint" style="font-family:sans-serif;padding:12px;'
    'background:#fff3cd;border-bottom:1px solid #e0c060">This catalog needs its API key. '
    "Open the link <code>zarrscribe serve</code> printed (it ends in "
    "<code>/ui/?api_key=&hellip;</code>), or ask whoever runs the server for it.</div>"
)
"""Shown above the UI when the browser holds no valid key (Tiled's own login has no
way to take one)."""


def run_list_projection() -> str:
    """The ``select_metadata`` the UI sends for the list of runs (one string, as the UI
    builds it from the columns)."""
    return "{" + ",".join(f"{f}:{expr}" for f, _, expr, _ in RUN_COLUMNS) + "}"


def ui_settings(share: Path) -> dict[str, Any]:
    """Tiled's default UI settings plus the columns of catalogs of bluesky runs."""
    import yaml

    settings: dict[str, Any] = yaml.safe_load(
        (share / "static" / "default_ui_settings.yml").read_text()
    )
    settings["specs"] = [
        {
            "spec": "CatalogOfBlueskyRuns",
            "columns": [
                {"header": header, "field": name, "select_metadata": expr}
                for name, header, expr, _ in RUN_COLUMNS
            ],
            "default_columns": [name for name, *_ in RUN_COLUMNS] + ["id"],
        }
    ]
    return settings


def _run_list_query(query: bytes) -> bytes | None:
    """The query of a run-list search of the UI with its sort keys made metadata paths
    (newest first when it asks for none); ``None`` when it is not such a search."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if ("select_metadata", run_list_projection()) not in pairs:
        return None
    paths = {name: path for name, _, _, path in RUN_COLUMNS} | {"id": "start.uid"}
    asked = [v for k, v in pairs if k == "sort"]
    keys = []
    for item in ",".join(asked).split(","):
        name = item.removeprefix("-")
        if name in paths:
            keys.append(("-" if item.startswith("-") else "") + paths[name])
    rest = [(k, v) for k, v in pairs if k != "sort"]
    return urlencode([*rest, ("sort", ",".join(keys) or NEWEST_FIRST)]).encode()


@dataclass
class WebUI:
    """An ASGI layer serving the UI of ``share`` (Tiled's share folder) in front of
    ``app`` (see the module)."""

    app: ASGIApp
    share: Path
    api_key: str
    public: bool
    root: Path = field(init=False)
    """The UI's folder, resolved: no file outside it is served."""
    settings: bytes | None = field(init=False)
    """The UI settings served (``None``: ``$TILED_UI_SETTINGS`` names the user's own,
    which Tiled serves)."""
    _patched: dict[Path, bytes] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.root = (self.share / "ui").resolve()
        custom = os.environ.get("TILED_UI_SETTINGS") is not None
        self.settings = None if custom else json.dumps(ui_settings(self.share)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif path == "/ui" or path.startswith("/ui/"):
            await self._ui(scope, receive, send)
        elif path == "/tiled-ui-settings" and self.settings is not None:
            await self._respond(scope, receive, send, self.settings, "application/json")
        elif path.rstrip("/") == "/api/v1/search" and scope.get("query_string"):
            query = _run_list_query(scope["query_string"])
            if query is not None:
                scope = dict(scope, query_string=query)
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, media: str
    ) -> None:
        from starlette.responses import Response

        await Response(body, media_type=media)(scope, receive, send)

    def _valid(self, key: str | None) -> bool:
        return key is not None and secrets.compare_digest(key.encode(), self.api_key.encode())

    async def _ui(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request
        from starlette.responses import FileResponse, RedirectResponse

        request = Request(scope, receive)
        if request.url.path == "/ui":
            await RedirectResponse(request.url.replace(path="/ui/"), 307)(scope, receive, send)
            return
        if "api_key" in request.query_params:
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "api_key"]
            to = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(to, 303)
            if self._valid(request.query_params["api_key"]):
                response.set_cookie(
                    API_KEY_COOKIE, self.api_key, httponly=True, samesite="lax", path="/"
                )
            await response(scope, receive, send)
            return
        relative = request.url.path.removeprefix("/ui/") or "index.html"
        file = (self.root / relative).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            file = self.root / "index.html"  # a page of the UI's own routing, or nothing
        if file.name == "index.html":
            page = file.read_bytes()
            if not self.public and not self._valid(request.cookies.get(API_KEY_COOKIE)):
                page = page.replace(b"<body>", b"<body>" + HINT.encode(), 1)
            await self._respond(scope, receive, send, page, "text/html; charset=utf-8")
        elif file.suffix == ".js" and (patched := self._patch(file)) is not None:
            await self._respond(scope, receive, send, patched, "text/javascript; charset=utf-8")
        else:
            await FileResponse(file)(scope, receive, send)

    def _patch(self, file: Path) -> bytes | None:
        """The bundle file ``file`` with the fixes of :data:`PATCHES` that apply to it
        (``None`` when none does)."""
        if file not in self._patched:
            text = original = file.read_text(encoding="utf-8")
            for prefix, old, new in PATCHES:
                if file.name.startswith(prefix):
                    text = old.sub(new, text)
            self._patched[file] = text.encode() if text != original else b""
        return self._patched[file] or None
