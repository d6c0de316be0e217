"""The planner's schema check: every document once, as event-model's own validators judge."""

from __future__ import annotations

import copy
import math
from typing import Any

import event_model
import pytest

from benchmarks._runs import small_run
from zarrscribe.catalog import Catalog, CatalogError
from zarrscribe.catalog._plan import plan_run, validate_document


def _jsonschema_accepts(name: str, doc: dict[str, Any]) -> bool:
    try:
        event_model.schema_validators[event_model.DocumentNames(name)].validate(doc)
    except Exception:
        return False
    return True


def _broken(docs: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One way to break each kind of document (a wrong type, a missing field)."""
    out = []
    for name, doc in docs:
        for field, value in (("uid", 5), ("time", "now"), ("data_keys", None)):
            if field in doc:
                bad = copy.deepcopy(doc)
                bad[field] = value
                out.append((name, bad))
        bad = copy.deepcopy(doc)
        bad.pop(next(iter(bad)))
        out.append((name, bad))
    return out


def test_the_compiled_schemas_judge_as_event_models_own() -> None:
    docs = small_run(0, "file:///data/run0/default.zarr")
    cases = [*docs, *_broken(docs)]
    assert {n for n, _ in docs} >= {"start", "descriptor", "event", "stop"}
    for name, doc in cases:
        expected = _jsonschema_accepts(name, doc)
        untouched = copy.deepcopy(doc)
        try:
            validate_document(name, doc)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == expected, (name, doc)
        assert doc == untouched  # no default is filled in


def test_every_document_is_checked(tmp_path: Any) -> None:
    docs = small_run(0, (tmp_path / "run0.zarr").as_uri())
    events = [i for i, (name, _) in enumerate(docs) if name == "event"]
    docs[events[-1]][1]["seq_num"] = "three"  # the last event: not checked before
    with pytest.raises(ValueError, match="seq_num"):
        plan_run(docs, {})
    catalog = Catalog.embedded(tmp_path / "catalog", readable=[tmp_path])
    with pytest.raises(CatalogError, match=r"cannot take.*seq_num"):
        catalog.register_run(docs, {})
    catalog.close()


def test_truncation_is_the_plugins() -> None:
    from bluesky_tiled_plugins.utils import truncate_json_overflow

    from zarrscribe.catalog._plan import _truncated

    big = 2**60
    values: list[Any] = [
        {"a": [1, 2.5, big, -big, 1e20, -1e20, float("inf"), float("-inf"), 2.0**53]},
        {"nested": {"t": (1, big), "s": "x", "b": True, "n": None, "f": 1.7977e308}},
        [[big], {"k": [1e300, -0.0]}],
        "text",
        3,
        2**53 - 1,
        2**53,
        event_model.DocumentNames.start,
    ]
    for value in values:
        ours, theirs = _truncated(value), truncate_json_overflow(value)
        assert repr(ours) == repr(theirs), value
    assert math.isnan(_truncated([float("nan")])[0])
