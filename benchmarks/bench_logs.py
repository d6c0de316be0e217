"""Peak memory of reading a long document log: replay, ``replay --check``, registration
and ``show --json`` of one run of N scalar events, against the same command's baseline.

Run: ``.venv/bin/python benchmarks/bench_logs.py [--events 10000,100000,1000000]``
(about 15 minutes on 2 cores; smaller sizes first).
Each case runs in a fresh process, itself measured by a fresh parent
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the peak resident set of the command and
anything it started); the baseline is the same command on a run of 10 events. The
old whole-file path (``--old-rev``, the code before logs were streamed, taken from git)
runs side by side, on the same log, up to ``--old-max`` events (it needs about 3 KiB
an event). Logs are made with event-model's composers and written as the pipeline writes
them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from _common import scratch, table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MiB = 2**20
BASELINE_EVENTS = 10
PARTS = ("writers", "callbacks", "catalog", "pipeline")
OLD_REV = "78aa6a2"
"""The last commit that read a log whole (``read_document_log``)."""

REGISTER = """
import sys
from pathlib import Path
from zarrscribe.pipeline import Pipeline
base, uid = Path(sys.argv[1]), sys.argv[2]
log = next(base.glob("*/*/documents.jsonl"))
with Pipeline([], base_dir=base) as pipeline:
    pipeline.registrations.submit(uid, log)
    assert pipeline.flush(3600), pipeline.registrations.failures
"""


def write_log(base: Path, events: int) -> str:
    """One run of ``events`` scalar events (a motor and a detector) under ``base``;
    returns its uid."""
    from event_model import compose_run

    from zarrscribe.callbacks import encode_record

    run_dir = base / "bench" / "scan_00000"
    run_dir.mkdir(parents=True)
    bundle = compose_run(metadata={"plan_name": "scan", "scan_id": 1}, validate=False)
    keys = {
        "x": {"source": "sim", "dtype": "number", "shape": [], "precision": 3},
        "det": {"source": "sim", "dtype": "number", "shape": [], "precision": 3},
    }
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys=keys,  # type: ignore[arg-type]
        object_keys={"x": ["x"], "det": ["det"]},
        validate=False,
    )
    with open(run_dir / "documents.jsonl", "wb") as f:
        f.write(encode_record("start", bundle.start_doc))
        f.write(encode_record("descriptor", desc.descriptor_doc))
        t = time.time()
        for i in range(events):
            now = t + i * 1e-3
            event = desc.compose_event(
                data={"x": i * 0.001, "det": float((i * 7919) % 1000) / 7.0},
                timestamps={"x": now, "det": now},
                seq_num=i + 1,
                time=now,
                validate=False,
            )
            f.write(encode_record("event", event))
        f.write(encode_record("stop", bundle.compose_stop(time=t + events * 1e-3)))
    return str(bundle.start_doc["uid"])


def commands(base: Path, uid: str) -> dict[str, tuple[list[str], bool]]:
    """Each case: its command, and whether it needs the catalog removed first."""
    py = [sys.executable]
    cli = [*py, "-m", "zarrscribe"]
    return {
        "replay": ([*cli, "replay", "--all", "--base-dir", str(base)], True),
        "replay --check": ([*cli, "replay", "--all", "--check", "--base-dir", str(base)], False),
        "registration": ([*py, "-c", REGISTER, str(base), uid], False),
        "show --json": ([*cli, "show", uid, "--json", "--base-dir", str(base)], False),
    }


def measure(argv: list[str]) -> None:
    """Run ``argv`` (stdout discarded); print its seconds and peak RSS as JSON."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"rc": done.returncode, "seconds": seconds, "peak": peak}))
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)


def run_case(argv: list[str], base: Path, fresh: bool, pythonpath: str | None) -> dict[str, float]:
    if fresh:
        shutil.rmtree(base / ".zarrscribe", ignore_errors=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, __file__, "--measure", "--", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] not in (0,):
        raise SystemExit(f"{' '.join(argv[:6])} ... exited {result['rc']}: {out.stderr}")
    return result


def old_tree(root: Path, rev: str) -> str:
    """A folder to put first on PYTHONPATH so that ``zarrscribe`` is the code of ``rev``."""
    archive = root / "old.tar"
    with open(archive, "wb") as f:
        subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "archive",
                rev,
                "writers",
                "callbacks",
                "catalog",
                "pipeline",
            ],
            stdout=f,
            check=True,
        )
    src = root / "old-src"
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    package = root / "old" / "zarrscribe"
    package.mkdir(parents=True)
    for name in PARTS:
        (package / name).symlink_to(src / name)
    shutil.copy(src / "pipeline" / "cli" / "python-m" / "__main__.py", package / "__main__.py")
    return str(root / "old")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--events", default="10000,100000,1000000", help="run sizes, comma-separated"
    )
    parser.add_argument("--old-rev", default=OLD_REV, help="git revision of the old path")
    parser.add_argument("--old-max", type=int, default=200_000, help="largest size run old")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        measure(args.argv)
        return 0
    sizes = [int(s) for s in args.events.split(",")]
    rows = [
        [
            "events",
            "log MiB",
            "case",
            "peak MiB",
            "above base",
            "old above",
            "seconds",
            "old s",
            "speed vs old",
        ]
    ]
    worst = 0.0
    with scratch("zs-bench-logs-") as root:
        try:
            old = old_tree(root, args.old_rev)
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"old path unavailable ({e}); new path only", file=sys.stderr)
            old = None
        baselines: dict[tuple[str, str], float] = {}
        for events in [BASELINE_EVENTS, *sizes]:
            base = root / f"data-{events}"
            uid = write_log(base, events)
            size = (base / "bench" / "scan_00000" / "documents.jsonl").stat().st_size / MiB
            print(f"{events} events: log {size:.1f} MiB", file=sys.stderr, flush=True)
            for case, (argv, fresh) in commands(base, uid).items():
                paths = {"new": None} if old is None else {"old": old, "new": None}
                if events > args.old_max:
                    paths.pop("old", None)
                got = {k: run_case(argv, base, fresh, p) for k, p in paths.items()}
                if events == BASELINE_EVENTS:
                    for k, r in got.items():
                        baselines[(k, case)] = r["peak"]
                    continue
                new = got["new"]
                above = (new["peak"] - baselines[("new", case)]) / MiB
                worst = max(worst, above)
                was = got.get("old")
                rows.append(
                    [
                        str(events),
                        f"{size:.0f}",
                        case,
                        f"{new['peak'] / MiB:.0f}",
                        f"{above:.0f}",
                        f"{(was['peak'] - baselines[('old', case)]) / MiB:.0f}" if was else "-",
                        f"{new['seconds']:.1f}",
                        f"{was['seconds']:.1f}" if was else "-",
                        f"{was['seconds'] / new['seconds']:.2f}x" if was else "-",
                    ]
                )
                print(f"  {case}: {rows[-1][3:]}", file=sys.stderr, flush=True)
            shutil.rmtree(base, ignore_errors=True)
    print(
        "peak RSS of one command on one run of N scalar events, in a fresh process; "
        "'above base': minus the same command's peak on a run of 10 events; "
        "old: the whole-file path, same log, same run"
    )
    print(table(rows))
    target = 256
    print(f"worst above baseline: {worst:.0f} MiB (target <= {target} MiB at every size)")
    return 0 if worst <= target else 1


if __name__ == "__main__":
    sys.exit(main())
