from __future__ import annotations

import json
from pathlib import Path

import pytest

from zarrscribe.callbacks import DocumentLogError, read_document_log


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    records = [{"name": "start", "doc": {"uid": "u"}}, {"name": "stop", "doc": {"uid": "s"}}]
    _write(path, [json.dumps(r) + "\n" for r in records])
    assert list(read_document_log(path)) == [("start", {"uid": "u"}), ("stop", {"uid": "s"})]


def test_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [json.dumps({"name": "start", "doc": {"uid": "u"}}) + "\n", '{"name": "ev'])
    assert [name for name, _ in read_document_log(path)] == ["start"]


def test_corrupt_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    good = json.dumps({"name": "start", "doc": {"uid": "u"}}) + "\n"
    _write(path, [good, "garbage\n", good])
    with pytest.raises(DocumentLogError, match=rf"{path}:2: not a document record"):
        list(read_document_log(path))


def test_missing_log(tmp_path: Path) -> None:
    with pytest.raises(DocumentLogError, match="does not exist"):
        list(read_document_log(tmp_path / "none.jsonl"))
