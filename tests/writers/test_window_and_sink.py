"""A source's write window (frames outside it dropped and counted), a source that
continues when registered again unchanged, unregistering one source, frame listeners,
and FrameSink's bounded, never-waiting put."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarrscribe.writers import FrameError, FrameSink, HasFrameListeners, WriterError, ZarrWriter


def _frame(i: int, shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.full(shape, i, np.uint16)


def _writer(tmp_path: Path, name: str = "run") -> ZarrWriter:
    w = ZarrWriter("default")
    w.set_uri((tmp_path / name / "default.zarr").as_uri())
    return w


def test_frames_outside_the_write_window_are_dropped_and_counted(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.register("cam", np.uint16, (8, 8))
    assert [w.write_frame("cam", _frame(i)) for i in range(3)] == [False] * 3  # live view
    w.open("cam")
    assert w.write_frame("cam", _frame(7)) is True
    with pytest.raises(FrameError, match=r"has shape \(4, 4\); registered \(8, 8\)"):
        w.write_frame("cam", np.zeros((4, 4), np.uint16))  # misuse inside the window raises
    w.close()
    assert w.write_frame("cam", _frame(9)) is False  # after the run: dropped
    assert w.dropped == {"cam": 4}
    array = zarr.open_group(tmp_path / "run" / "default.zarr", mode="r")["cam/0"]
    np.testing.assert_array_equal(array[:], _frame(7)[None])


def test_the_same_registration_of_an_open_source_continues_it(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.register("cam", np.uint16, (8, 8))
    w.open("cam")
    w.write_frame("cam", _frame(0))
    first = [d for _, d in w.collect_stream_docs("cam", 1)]
    w.register("cam", np.uint16, (8, 8))  # a detector restaged inside the run
    w.open("cam")
    w.write_frame("cam", _frame(1))
    assert w.get_indices_written("cam") == 2
    (datum,) = [d for _, d in w.collect_stream_docs("cam", 2)]
    assert datum["stream_resource"] == first[0]["uid"]  # one StreamResource, continued
    assert datum["indices"] == {"start": 1, "stop": 2}
    with pytest.raises(WriterError, match=r"register it unchanged to continue its array"):
        w.register("cam", np.uint16, (8, 9))
    w.close()


def test_unregister_one_source(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.register("cam", np.uint16, (8, 8))
    w.register("other", np.uint16, (8, 8))
    w.unregister("other")
    assert list(w.sources) == ["cam"]
    with pytest.raises(WriterError, match="'nope' is not registered"):
        w.unregister("nope")
    w.open("cam")
    with pytest.raises(WriterError, match=r"cannot unregister 'cam': .* has it open .* close\(\)"):
        w.unregister("cam")
    w.close()
    w.unregister("cam")
    assert not w.sources


def test_frame_listeners_see_each_written_frame_with_its_index(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    assert isinstance(w, HasFrameListeners)
    seen: list[tuple[str, int, int]] = []

    def listener(name: str, index: int, frame: np.ndarray) -> None:
        seen.append((name, index, int(frame[0, 0])))

    w.add_frame_listener("cam", listener)  # before registration too
    w.write_frame("cam", _frame(5))  # dropped: not seen
    w.register("cam", np.uint16, (8, 8))
    w.open("cam")
    for i in range(3):
        w.write_frame("cam", _frame(10 + i))
    w.remove_frame_listener("cam", listener)
    w.write_frame("cam", _frame(99))
    w.close()
    assert seen == [("cam", 0, 10), ("cam", 1, 11), ("cam", 2, 12)]


def test_sink_put_nowait_never_waits_and_counts_a_full_queue() -> None:
    release, busy = threading.Event(), threading.Event()
    consumed: list[int] = []

    def slow(frame: np.ndarray) -> None:
        busy.set()
        release.wait(10)
        consumed.append(int(frame[0, 0]))

    sink = FrameSink(slow, maxsize=2, name="slow")
    assert sink.put_nowait(_frame(0))
    assert busy.wait(10)  # the consumer holds frame 0 and waits
    t0 = time.perf_counter()
    accepted = [sink.put_nowait(_frame(i)) for i in range(1, 6)]
    assert time.perf_counter() - t0 < 0.5  # never waited for the consumer
    assert accepted == [True, True, False, False, False]
    assert sink.dropped == 3
    assert sink.pending == 2
    with pytest.raises(WriterError, match=r"sink 'slow': the queue of 2 frames stayed full"):
        sink.put(_frame(50), timeout=0.05)
    assert sink.dropped == 4
    release.set()
    assert sink.join(10)
    sink.close()
    assert consumed == [0, 1, 2]
    assert sink.put_nowait(_frame(60)) is False  # closed: refused, counted
    with pytest.raises(WriterError, match="sink 'slow' is closed"):
        sink.put(_frame(61))


def test_writer_sink_writes_in_order(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.register("cam", np.uint16, (8, 8))
    w.open("cam")
    sink = w.sink("cam", maxsize=64)
    for i in range(20):
        assert sink.put_nowait(_frame(i))
    sink.close()
    assert sink.error is None
    assert sink.dropped == 0
    w.close()
    array = zarr.open_group(tmp_path / "run" / "default.zarr", mode="r")["cam/0"]
    np.testing.assert_array_equal(array[:, 0, 0], np.arange(20))
    with pytest.raises(WriterError, match="'nope' is not registered"):
        w.sink("nope")
