from __future__ import annotations

import json
import threading
from pathlib import Path

import event_model
import numpy as np
import pytest
import zarr

from zarrscribe.writers import (
    METADATA_KEY,
    Compression,
    ControllableDataWriter,
    FrameError,
    HasMetadata,
    StoreExistsError,
    WriterError,
    ZarrLayout,
    ZarrWriter,
    read_store_attributes,
)
from zarrscribe.writers.model import MissingDependencyError


def frames(n: int, shape: tuple[int, ...] = (32, 48), dtype: str = "uint16") -> np.ndarray:
    rng = np.random.default_rng(n)
    return rng.integers(0, 4000, size=(n, *shape)).astype(dtype)


@pytest.fixture
def writer(tmp_path: Path) -> ZarrWriter:
    w = ZarrWriter("default")
    w.set_uri((tmp_path / "run" / "default.zarr").as_uri())
    return w


def test_satisfies_protocols() -> None:
    w = ZarrWriter()
    assert isinstance(w, ControllableDataWriter)
    assert isinstance(w, HasMetadata)
    assert w.mimetype == "application/x-zarr"


def test_round_trip_one_device(writer: ZarrWriter) -> None:
    data = frames(7)
    writer.register("cam1", np.uint16, (32, 48))
    keys = writer.open("cam1")
    assert keys["cam1"]["external"] == "STREAM:"
    assert keys["cam1"]["dtype_numpy"] == "<u2"
    assert keys["cam1"]["shape"] == [32, 48]
    assert writer.is_open
    for frame in data:
        writer.write_frame("cam1", frame)
    assert writer.get_indices_written("cam1") == 7
    writer.close()
    assert not writer.is_open
    group = zarr.open_group(writer.uri.removeprefix("file://"), mode="r")
    np.testing.assert_array_equal(group["cam1/0"][:], data)


def test_two_devices_two_threads_one_store(writer: ZarrWriter) -> None:
    a, b = frames(40, (16, 16)), frames(25, (8, 12), "float32")
    writer.register("cam_a", "uint16", (16, 16))
    writer.register("cam_b", "float32", (8, 12))
    writer.open("cam_a")
    writer.open("cam_b")

    def push(name: str, data: np.ndarray) -> None:
        for frame in data:
            writer.write_frame(name, frame)

    threads = [
        threading.Thread(target=push, args=("cam_a", a)),
        threading.Thread(target=push, args=("cam_b", b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.get_indices_written() == 25
    writer.close()
    group = zarr.open_group(writer.uri.removeprefix("file://"), mode="r")
    np.testing.assert_array_equal(group["cam_a/0"][:], a)
    np.testing.assert_array_equal(group["cam_b/0"][:], b)


def test_stream_documents_pass_schema(writer: ZarrWriter) -> None:
    writer.register("cam1", np.uint16, (32, 48))
    writer.open("cam1")
    for frame in frames(5):
        writer.write_frame("cam1", frame)
    docs = list(writer.collect_stream_docs("cam1", 3))
    assert [name for name, _ in docs] == ["stream_resource", "stream_datum"]
    resource, datum = docs[0][1], docs[1][1]
    assert resource["uri"] == writer.uri
    assert resource["mimetype"] == "application/x-zarr"
    assert resource["parameters"]["array_key"] == "cam1/0"  # the OME-Zarr image's array
    assert datum["indices"] == {"start": 0, "stop": 3}
    more = list(writer.collect_stream_docs("cam1", 10))  # only 5 were written
    assert [name for name, _ in more] == ["stream_datum"]
    assert more[0][1]["indices"] == {"start": 3, "stop": 5}
    assert list(writer.collect_stream_docs("cam1", 5)) == []
    for name, doc in docs + more:
        event_model.schema_validators[event_model.DocumentNames(name)].validate(doc)
    writer.close()


def test_reuse_after_close(tmp_path: Path) -> None:
    w = ZarrWriter()
    for i in range(2):
        w.set_uri(str(tmp_path / f"s{i}.zarr"))
        w.register("cam", np.uint8, (4, 4))
        w.open("cam")
        w.write_frame("cam", np.full((4, 4), i, np.uint8))
        w.close()
        w.clear_sources()
    for i in range(2):
        assert zarr.open_group(tmp_path / f"s{i}.zarr", mode="r")["cam/0"][0, 0, 0] == i


def test_metadata_written_after_close_and_cleared(writer: ZarrWriter) -> None:
    writer.register("cam1", np.uint16, (32, 48))
    writer.update_metadata(
        {"cam1": {"exposure": np.float32(0.5), "roi": np.array([0, 0, 32, 48]), "bin": (1, 1)}}
    )
    writer.open("cam1")
    writer.write_frame("cam1", frames(1)[0])
    writer.close()
    attrs = read_store_attributes(writer.uri)
    assert attrs[METADATA_KEY] == {"cam1": {"exposure": 0.5, "roi": [0, 0, 32, 48], "bin": [1, 1]}}
    assert writer.metadata == {}
    # the store stays a valid Zarr group after the atomic rewrite
    assert zarr.open_group(writer.uri.removeprefix("file://"), mode="r").attrs[METADATA_KEY]


def test_metadata_not_json_is_refused_naming_the_key(writer: ZarrWriter) -> None:
    with pytest.raises(WriterError, match=r"metadata\['cam1'\]\['handle'\] = <object"):
        writer.update_metadata({"cam1": {"handle": object()}})
    assert writer.metadata == {}


def test_compression_and_custom_layout(tmp_path: Path) -> None:
    w = ZarrWriter(compression=Compression("zstd", level=3))
    w.set_uri(str(tmp_path / "c.zarr"))
    w.register("cam", np.uint16, (64, 64))
    w.register("raw", np.uint16, (64, 64), layout=ZarrLayout((32, 32), (2, 2), 3))
    w.open("cam")
    w.open("raw")
    data = frames(10, (64, 64))
    for f in data:
        w.write_frame("cam", f)
        w.write_frame("raw", f)
    w.close()
    group = zarr.open_group(tmp_path / "c.zarr", mode="r")
    np.testing.assert_array_equal(group["cam/0"][:], data)
    np.testing.assert_array_equal(group["raw/0"][:], data)
    assert group["raw/0"].shards == (3, 64, 64)
    assert group["raw/0"].chunks == (1, 32, 32)
    meta = json.loads((tmp_path / "c.zarr" / "cam" / "0" / "zarr.json").read_text())
    assert "blosc" in json.dumps(meta["codecs"])


def test_store_without_frames_is_an_empty_readable_group(writer: ZarrWriter) -> None:
    writer.register("cam1", np.uint16, (32, 48))
    writer.open("cam1")
    writer.close()
    group = zarr.open_group(writer.uri.removeprefix("file://"), mode="r")
    assert list(group.keys()) == []
    assert group.attrs[METADATA_KEY] == {}


# ---------------------------------------------------------------- bad input


def _opened(writer: ZarrWriter, capacity: int = 0) -> ZarrWriter:
    writer.register("cam1", np.uint16, (32, 48), capacity=capacity)
    writer.open("cam1")
    return writer


def store_exists(writer: ZarrWriter) -> bool:
    assert writer.uri is not None
    return Path(writer.uri.removeprefix("file://")).exists()


def _assert_readable(writer: ZarrWriter, expected: np.ndarray) -> None:
    writer.close()
    group = zarr.open_group(writer.uri.removeprefix("file://"), mode="r")
    np.testing.assert_array_equal(group["cam1/0"][:], expected)


def test_wrong_shape_is_refused_and_store_stays_readable(writer: ZarrWriter) -> None:
    data = frames(2)
    _opened(writer).write_frame("cam1", data[0])
    with pytest.raises(
        FrameError, match=r"frame for 'cam1' has shape \(32, 47\); registered \(32, 48\)"
    ):
        writer.write_frame("cam1", np.zeros((32, 47), np.uint16))
    writer.write_frame("cam1", data[1])
    _assert_readable(writer, data)


def test_wrong_dtype_is_refused(writer: ZarrWriter) -> None:
    data = frames(1)
    _opened(writer).write_frame("cam1", data[0])
    with pytest.raises(FrameError, match="has dtype int32; registered uint16"):
        writer.write_frame("cam1", data[0].astype(np.int32))
    _assert_readable(writer, data)


def test_non_contiguous_frame_is_copied_not_scrambled(writer: ZarrWriter) -> None:
    data = frames(1, (48, 32))
    _opened(writer).write_frame("cam1", data[0].T)
    _assert_readable(writer, data.transpose(0, 2, 1))


def test_unregistered_source(writer: ZarrWriter) -> None:
    # a frame outside any write window is dropped and counted, not an error
    assert writer.write_frame("nope", frames(1)[0]) is False
    assert writer.dropped == {"nope": 1}
    with pytest.raises(WriterError, match=r"source 'nope' is not registered .*register\(\) first"):
        writer.open("nope")


def test_write_before_open_is_dropped_and_counted(writer: ZarrWriter) -> None:
    writer.register("cam1", np.uint16, (32, 48))
    assert writer.write_frame("cam1", frames(1)[0]) is False
    assert writer.write_frame("cam1", frames(1)[0]) is False
    assert writer.dropped == {"cam1": 2}
    assert not writer.is_open
    assert not store_exists(writer)  # nothing written, not even a store


def test_more_frames_than_capacity(writer: ZarrWriter) -> None:
    data = frames(3)
    _opened(writer, capacity=3)
    for f in data:
        writer.write_frame("cam1", f)
    with pytest.raises(WriterError, match="frame 4 for 'cam1' exceeds its capacity of 3"):
        writer.write_frame("cam1", data[0])
    _assert_readable(writer, data)


def test_set_uri_or_register_while_open(writer: ZarrWriter, tmp_path: Path) -> None:
    _opened(writer)
    with pytest.raises(WriterError, match="while writer 'default' is open"):
        writer.set_uri(str(tmp_path / "other.zarr"))
    writer.register("cam2", np.uint16, (2, 2))  # allowed until the first frame
    writer.write_frame("cam1", frames(1)[0])
    with pytest.raises(WriterError, match=r"cannot register 'cam3': .* already streams frames"):
        writer.register("cam3", np.uint16, (2, 2))
    with pytest.raises(WriterError, match="cannot clear sources"):
        writer.clear_sources()
    writer.close()


def test_registering_an_open_source_again_is_refused(writer: ZarrWriter) -> None:
    _opened(writer)
    with pytest.raises(
        WriterError,
        match=r"cannot register 'cam1' again as uint8 \(2, 2\) .*: it is open on 'file://",
    ):
        writer.register("cam1", np.uint8, (2, 2))
    assert writer.sources["cam1"].dtype == np.uint16  # the registration is unchanged
    data = frames(1)
    writer.write_frame("cam1", data[0])
    _assert_readable(writer, data)
    writer.register("cam1", np.uint8, (2, 2))  # allowed once closed
    assert writer.sources["cam1"].dtype == np.uint8


def test_store_creation_failure_names_the_cause(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    w = ZarrWriter()
    w.set_uri(str(locked / "sub" / "s.zarr"))
    w.register("cam1", np.uint8, (2, 2))
    w.open("cam1")
    (locked / "sub").write_text("a file where the folder should be")
    with pytest.raises(
        WriterError, match=r"could not create the store .*s\.zarr': its folder cannot be made"
    ):
        w.write_frame("cam1", np.zeros((2, 2), np.uint8))


def test_open_without_uri() -> None:
    w = ZarrWriter()
    w.register("cam1", np.uint16, (4, 4))
    with pytest.raises(WriterError, match=r"has no URI; call set_uri\(\) first"):
        w.open("cam1")


def test_existing_store_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "taken.zarr"
    existing.mkdir()
    (existing / "precious").write_text("keep me")
    w = ZarrWriter()
    with pytest.raises(StoreExistsError, match=r"taken\.zarr' already exists"):
        w.set_uri(existing.as_uri())
    # a store that appears after set_uri is not overwritten either
    w.set_uri(str(tmp_path / "late.zarr"))
    (tmp_path / "late.zarr").mkdir()
    w.register("cam1", np.uint8, (2, 2))
    with pytest.raises(StoreExistsError):
        w.open("cam1")
    assert (existing / "precious").read_text() == "keep me"


def test_reopening_the_same_uri_after_close_is_refused(writer: ZarrWriter) -> None:
    _opened(writer).write_frame("cam1", frames(1)[0])
    writer.close()
    with pytest.raises(StoreExistsError, match="already exists"):
        writer.open("cam1")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "a/b", "dtype": "u2", "shape": (2, 2)}, "cannot name an array"),
        ({"name": "cam", "dtype": "complex64", "shape": (2, 2)}, "dtype complex64 is not"),
        ({"name": "cam", "dtype": ">u2", "shape": (2, 2)}, "is not supported"),
        ({"name": "cam", "dtype": "u2", "shape": (0, 2)}, r"frame shape \(0, 2\)"),
        ({"name": "cam", "dtype": "u2", "shape": (2, 2), "capacity": -1}, "capacity -1"),
        (
            {
                "name": "cam",
                "dtype": "u2",
                "shape": (2, 2),
                "layout": ZarrLayout((4, 4), (1, 1), 1),
            },
            "does not fit frames of shape",
        ),
    ],
)
def test_bad_registration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(WriterError, match=match):
        ZarrWriter().register(**kwargs)  # type: ignore[arg-type]


def test_missing_acquire_zarr_says_to_reinstall(
    writer: ZarrWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from zarrscribe.writers import _acquire

    monkeypatch.setattr(_acquire, "_MODULE", None)
    monkeypatch.setitem(sys.modules, "acquire_zarr", None)
    _opened(writer)
    # acquire-zarr is part of the plain install: only a damaged install lacks it
    with pytest.raises(MissingDependencyError, match=r"needs 'acquire_zarr'.*reinstall"):
        writer.write_frame("cam1", frames(1)[0])


# ---------------------------------------------------------------- push-back


def test_memory_limit_must_be_positive() -> None:
    with pytest.raises(WriterError, match="max_memory 0"):
        ZarrWriter(max_memory=0)


def test_no_push_back_below_the_limit(writer: ZarrWriter) -> None:
    data = frames(3)
    _opened(writer)
    for f in data:
        writer.write_frame("cam1", f)
    assert writer.throttled_seconds == 0.0
    _assert_readable(writer, data)
