"""Cost of publishing documents to NATS JetStream.

Run: ``.venv/bin/python benchmarks/bench_bus.py [--points 300] [--rounds 3] [--servers URL]``
(needs nats-server with JetStream; uses a stream of its own and deletes it).
Printed as ratios measured side by side in one run:
- the RunEngine's time for a scan (light + motor) with the pipeline, with vs without
  the publisher stage (the added cost on the RunEngine thread);
- documents per second acknowledged by JetStream through the publisher vs raw
  nats-py ``publish_async`` of the same documents (same connection settings).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from bluesky import RunEngine
from bluesky import plans as bp

from zarrscribe.callbacks import BusSettings
from zarrscribe.callbacks._bus import encode_document
from zarrscribe.pipeline import Pipeline, SimLight, SimMotor

from _common import scratch, table


def _scan(points: int, base: Any, bus: BusSettings | None) -> tuple[float, float, int]:
    """(RunEngine seconds, seconds until every document is acknowledged, documents)."""
    light, motor = SimLight("light"), SimMotor("m1", velocity=1e9)
    RE = RunEngine({}, call_returns_result=True)
    pipeline = Pipeline([light, motor], base_dir=base, catalog=None, bus=bus)
    RE.subscribe(pipeline)
    publisher = pipeline.publisher
    counted = [0]
    RE.subscribe(lambda name, doc: counted.__setitem__(0, counted[0] + 1))
    t0 = time.perf_counter()
    RE(bp.scan([light], motor, 0, 1, points))
    t_re = time.perf_counter() - t0
    if publisher is not None:
        assert publisher.flush(120)
    t_all = time.perf_counter() - t0
    if publisher is not None:
        publisher.close()
    pipeline.close(1)
    return t_re, t_all, counted[0]


async def _raw(bus: BusSettings, docs: list[tuple[str, dict[str, Any]]]) -> float:
    import nats

    nc = await nats.connect(bus.server_list)
    js = nc.jetstream()
    await bus.ensure_stream(js)
    run = uuid.uuid4().hex
    t0 = time.perf_counter()
    futures = [
        await js.publish_async(
            bus.subject(run, name), encode_document(doc), headers={"Nats-Msg-Id": f"{run}/{i}"}
        )
        for i, (name, doc) in enumerate(docs)
    ]
    await asyncio.gather(*futures)
    took = time.perf_counter() - t0
    await nc.close()
    return took


async def _drop(bus: BusSettings) -> None:
    import nats

    nc = await nats.connect(bus.server_list)
    await nc.jetstream().delete_stream(bus.stream)
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    bus = BusSettings(servers=args.servers, stream=f"BENCH{tag}", prefix=f"bench{tag}")
    without, with_, acked, ndocs = [], [], [], 0
    try:
        with scratch("zs-bench-bus-") as root:
            _scan(10, root / "warm", bus)
            for i in range(args.rounds):  # interleaved rounds
                without.append(_scan(args.points, root / f"a{i}", None)[0])
                t_re, t_all, ndocs = _scan(args.points, root / f"b{i}", bus)
                with_.append(t_re)
                acked.append(t_all)
        docs = [
            (
                "event",
                {
                    "uid": uuid.uuid4().hex,
                    "data": {"light": 1.0, "m1": 0.5},
                    "timestamps": {"light": 0.0, "m1": 0.0},
                    "seq_num": i + 1,
                    "time": 0.0,
                    "descriptor": "d",
                    "filled": {},
                },
            )
            for i in range(ndocs)
        ]
        raw = [asyncio.run(_raw(bus, docs)) for _ in range(args.rounds)]
    finally:
        asyncio.run(_drop(bus))
    a, b = statistics.median(without), statistics.median(with_)
    per_doc_us = (b - a) / ndocs * 1e6
    pub_rate = ndocs / statistics.median(acked)
    raw_rate = ndocs / statistics.median(raw)
    print(
        table(
            [
                ["what", "result"],
                [
                    f"RunEngine time, scan of {args.points} points ({ndocs} documents)",
                    f"{b / a:.2f}x with publisher ({b * 1e3:.0f} vs {a * 1e3:.0f} ms, "
                    f"{per_doc_us:+.0f} us/document)",
                ],
                [
                    "documents acknowledged per second (run start to all acked)",
                    f"{pub_rate:,.0f}/s; raw publish_async {raw_rate:,.0f}/s "
                    f"({pub_rate / raw_rate:.2f}x; bounded by the RunEngine)",
                ],
            ]
        )
    )


if __name__ == "__main__":
    main()
