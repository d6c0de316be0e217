"""The ``zarrscribe`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from zarrscribe.writers import SessionPathProvider, ZarrWriter


def _demo(args: argparse.Namespace) -> int:
    provider = SessionPathProvider(args.base_dir, args.session)
    writer = ZarrWriter("default")
    info = provider("demo")
    writer.set_uri(info.store_uri)
    rng = np.random.default_rng(0)
    for cam in ("cam1", "cam2"):
        writer.register(cam, np.uint16, (256, 256), capacity=20)
        writer.open(cam)
    for i in range(20):
        for cam in ("cam1", "cam2"):
            writer.write_frame(cam, rng.poisson(100 + i, (256, 256)).astype(np.uint16))
        print(f"\rframe {i + 1}/20", end="", flush=True)
    writer.close()
    print(f"\nwrote {info.store_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zarrscribe")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write a demo store")
    demo.add_argument("--base-dir", type=Path, default=Path("zarrscribe-data"))
    demo.add_argument("--session", default="demo")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
