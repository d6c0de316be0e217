from __future__ import annotations

import json
from pathlib import Path

import pytest

from zarrscribe.callbacks import DocumentLogError, read_document_log


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def _line(name: str, uid: str) -> str:
    return json.dumps({"name": name, "doc": {"uid": uid}}) + "\n"


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), _line("stop", "s")])
    logged = read_document_log(path)
    assert logged.documents == [("start", {"uid": "u"}), ("stop", {"uid": "s"})]
    assert not logged.damaged


def test_truncated_last_line_is_left_out_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), '{"name": "ev'])
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start"]
    assert logged.damage == [
        f"{path}:2: cut short (Unterminated string starting at: line 1 column 10 (char 9))"
    ]


def test_corrupt_line_names_file_and_line_and_later_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    _write(path, [_line("start", "u"), "garbage\n", _line("stop", "s")])
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start", "stop"]
    assert len(logged.damage) == 1
    assert logged.damage[0].startswith(f"{path}:2: not a document record")


def test_invalid_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "documents.jsonl"
    path.write_bytes(
        _line("start", "u").encode() + b'{"name": "\xff\xfe"}\n' + _line("stop", "s").encode()
    )
    logged = read_document_log(path)
    assert [name for name, _ in logged.documents] == ["start", "stop"]
    assert logged.damage[0].startswith(f"{path}:2: not UTF-8 text")


def test_missing_log(tmp_path: Path) -> None:
    with pytest.raises(DocumentLogError, match="does not exist"):
        read_document_log(tmp_path / "none.jsonl")
