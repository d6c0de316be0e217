"""The web UI of ``zarrscribe serve`` in a real headless browser (Debian's chromium,
driven by playwright): with the link it prints, the runs are listed newest first with
their scan, plan, start and status, a frame shows and a readings table shows its rows;
without the key, nothing but the login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tiled.client import from_uri

from tests.pipeline.cli._server import Served, fetch

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT = 60_000  # ms: the UI's first page loads its bundle on a busy machine

# The table view shows a header and a row with values (not its column names alone).
FILLED = """() => {
  const rows = Array.from(document.querySelectorAll("[role=row]"), r => r.innerText.split("\\n"));
  return rows.length > 1 && rows[0].length > 1 && rows[1].length > 1;
}"""

# The pixels of the first canvas: [width, height, lowest, highest] of the red channel.
CANVAS = """() => {
  const c = document.querySelector("canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let low = 255, high = 0;
  for (let i = 0; i < d.length; i += 4) { low = Math.min(low, d[i]); high = Math.max(high, d[i]); }
  return [c.width, c.height, low, high];
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the web UI tests need Debian's chromium at {CHROMIUM}: "
            "apt-get install chromium ('make test' installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()  # no cookie of another test
    page = context.new_page()
    page.set_default_timeout(WAIT)
    yield page
    context.close()


def _link(served: Served) -> str:
    (line,) = [x for x in served.server.stdout if x.startswith("web UI: ")]
    return line.removeprefix("web UI: ")


def _rows(page: Any) -> list[list[str]]:
    return [row.split("\n") for row in page.locator("[role=row]").all_inner_texts()]


def _started(served: Served, plan: str) -> str:
    client = from_uri(served.server.url, api_key=served.key)
    try:
        time = client[served.uids[plan]].start["time"]
    finally:
        client.context.close()
    return datetime.fromtimestamp(time, UTC).isoformat(timespec="seconds")


def test_the_printed_link_lists_runs_newest_first_and_shows_a_frame(
    web_servers: dict[str, Served], page: Any
) -> None:
    served = web_servers["key required"]
    link = _link(served)
    assert link == f"{served.server.url}/ui/?api_key={served.key}"
    page.goto(link)
    page.wait_for_selector("text=fly_scan")
    assert "api_key" not in page.url  # the key went into a cookie, out of the address bar
    header, *runs = _rows(page)
    assert header == ["ID", "Scan", "Plan", "Started", "Status"]
    assert [r[1:3] + r[4:] for r in runs] == [
        ["3", "fly_scan", "success"],
        ["2", "scan", "success"],
        ["1", "count", "success"],
    ]
    assert runs[0][3] == _started(served, "fly_scan")
    assert page.locator("#zarrscribe-key-hint").count() == 0

    # clicking the Scan column sorts by scan id, oldest first
    page.get_by_role("columnheader", name="Scan").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[role=row]')[1]?.innerText.includes('count')"
    )
    assert [r[2] for r in _rows(page)[1:]] == ["count", "scan", "fly_scan"]

    page.goto(f"{served.server.url}/ui/browse/{served.uids['fly_scan']}/primary/cam3")
    with page.expect_response(lambda r: "/api/v1/array/full/" in r.url) as answer:
        page.wait_for_selector("canvas")
    assert answer.value.status == 200
    page.wait_for_function("() => document.querySelector('canvas').width > 0")
    width, height, low, high = page.evaluate(CANVAS)
    assert (width, height) == (128, 128)
    assert high > low  # a frame, not a blank


@pytest.mark.parametrize("plan", ["scan", "count"])
def test_the_readings_table_shows_its_rows_and_stock_clients_still_read_it(
    web_servers: dict[str, Served], page: Any, plan: str
) -> None:
    served = web_servers["key required"]
    uid = served.uids[plan]
    client = from_uri(served.server.url, api_key=served.key)
    try:
        run = client[uid]
        frame = run["primary"].base["internal"].read()  # Arrow, as the stock client asks
        stream = run["primary"].read()  # the whole stream, readings and frames
        documents = [name for name, _ in run.documents()]  # JSON-seq
    finally:
        client.context.close()
    events = len(frame)
    assert events >= 2
    assert list(stream["time"].values) == list(frame["time"])
    assert documents[0] == "start"
    assert documents.count("event") == events
    # the server still speaks RFC 7464 (each row starts with RS) to every other client
    status, _, body = fetch(
        served.server.port,
        f"/api/v1/table/partition/{uid}/primary/internal?partition=0&format=application/json-seq",
        [("Authorization", f"Apikey {served.key}")],
    )
    assert status == 200
    assert body.startswith(b"\x1e")
    assert len(body.splitlines()) == events

    page.goto(_link(served))
    page.wait_for_selector("text=fly_scan")
    with page.expect_response(lambda r: "format=application/json-seq" in r.url) as rows:
        page.goto(f"{served.server.url}/ui/browse/{uid}/primary/internal")
    assert rows.value.status == 200
    page.wait_for_function(FILLED)
    assert "No rows" not in page.inner_text("body")
    header, *rows = _rows(page)
    if header[0] == "Column":  # a short table shows transposed: a row per column
        assert header[1:] == [f"row_{i}" for i in range(events)]
        shown = {row[0]: row[1:] for row in rows}
    else:
        shown = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    assert shown["seq_num"] == [str(i) for i in range(1, events + 1)]
    column = "laser-intensity"
    assert [float(v) for v in shown[column]] == pytest.approx(list(frame[column]), rel=1e-3)


def test_without_the_key_nothing_but_the_login(web_servers: dict[str, Served], page: Any) -> None:
    served = web_servers["key required"]
    answers: list[tuple[int, str]] = []
    page.on("response", lambda r: answers.append((r.status, r.url)))
    with page.expect_response(lambda r: "/api/v1/metadata/" in r.url) as first:
        page.goto(f"{served.server.url}/ui/?api_key=not{served.key[3:]}")  # a wrong key
    assert first.value.status == 401
    page.wait_for_selector("text=Log in")
    page.wait_for_selector("#zarrscribe-key-hint")
    assert "tiled_api_key" not in [c["name"] for c in page.context.cookies()]
    body = page.inner_text("body")
    assert "needs its API key" in body
    assert not any(uid in body for uid in served.uids.values())
    assert "fly_scan" not in body
    data = [(s, u) for s, u in answers if "/api/v1/" in u and not u.endswith("/api/v1/")]
    assert data
    assert all(s == 401 for s, _ in data), data


def test_under_public_the_ui_needs_no_key(web_servers: dict[str, Served], page: Any) -> None:
    served = web_servers["--public"]
    assert _link(served) == f"{served.server.url}/ui/"
    page.goto(_link(served))
    page.wait_for_selector("text=fly_scan")
    assert page.locator("#zarrscribe-key-hint").count() == 0
    settings = fetch(served.server.port, "/tiled-ui-settings", [])
    assert json.loads(settings[2])["specs"][0]["spec"] == "CatalogOfBlueskyRuns"
