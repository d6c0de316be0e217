"""``zarrscribe serve``: start-up time and request latency, against the in-process catalog.

Run: ``.venv/bin/python benchmarks/bench_serve.py [--base-dir DIR] [--rounds 20]``.
Without ``--base-dir`` it runs ``zarrscribe demo`` into a scratch folder first.
Start-up is measured from starting the process to its first answer (against opening
the same catalog in-process); requests are timed in interleaved rounds through the
server (HTTP on loopback, API key) and through the embedded catalog (in-process app).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import embedded_catalog

from _common import scratch, table

BIN = Path(sys.executable).parent


def _start(base: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "zarrscribe"), "serve", "--base-dir", str(base), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/", timeout=1).status_code == 200:
                return proc, time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(0.05)


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f} ms"


def bench(base: Path, rounds: int) -> None:
    from tiled.client import from_uri

    from zarrscribe.catalog import stored_api_key

    start = time.perf_counter()
    local = embedded_catalog(base)
    opened = time.perf_counter() - start
    proc, started = _start(base, 8799)
    try:
        key = stored_api_key(base)
        remote = Catalog.from_uri("http://127.0.0.1:8799/api", api_key=key)
        client = from_uri("http://127.0.0.1:8799", api_key=key)
        uid = local.search(plan_name="scan")[0].uid
        cases = {
            "search (newest 50)": (
                lambda: remote.search(limit=50),
                lambda: local.search(limit=50),
            ),
            "run metadata": (lambda: remote.run(uid).metadata, lambda: local.run(uid).metadata),
            "documents()": (lambda: remote.documents(uid), lambda: local.documents(uid)),
            "frame cam1[0]": (
                lambda: client[uid]["primary"]["cam1"][0],
                lambda: local.run(uid)["primary"]["cam1"][0],
            ),
        }
        times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in cases}
        for _ in range(rounds):
            for name, (served, embedded) in cases.items():
                for fn, out in zip((served, embedded), times[name], strict=True):
                    t = time.perf_counter()
                    fn()
                    out.append(time.perf_counter() - t)
        rows = [["what", "served (HTTP)", "embedded (in-process)", "ratio"]]
        rows.append(
            ["start-up / open", f"{started:.2f} s", f"{opened:.2f} s", f"{started / opened:.2f}x"]
        )
        for name, (served_t, embedded_t) in times.items():
            ratio = statistics.median(served_t) / statistics.median(embedded_t)
            rows.append([name, _median_ms(served_t), _median_ms(embedded_t), f"{ratio:.2f}x"])
        print(table(rows))
        client.context.close()
        remote.close()
    finally:
        proc.terminate()
        proc.wait(30)
        local.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-dir", type=Path, help="a folder with runs (default: a demo's)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.base_dir:
        bench(args.base_dir.absolute(), args.rounds)
        return 0
    with scratch("zs-serve-") as tmp:
        base = tmp / "data"
        subprocess.run(
            [str(BIN / "zarrscribe"), "demo", "--base-dir", str(base), "--frames", "8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bench(base, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
