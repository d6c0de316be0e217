"""Bus settings refuse values that cannot work, quoting them."""

from __future__ import annotations

import pytest

from zarrscribe.callbacks import BusError, BusSettings


@pytest.mark.parametrize(
    ("field", "value"), [("linger", -0.1), ("cursor_every", 600.0), ("cursor_every", -1.0)]
)
def test_publisher_timings_outside_the_duplicate_window_are_refused(
    field: str, value: float
) -> None:
    with pytest.raises(BusError, match=f"{field} {value!r} must be seconds from 0"):
        BusSettings(**{field: value})  # type: ignore[arg-type]


def test_linger_zero_is_allowed() -> None:
    assert BusSettings(linger=0.0).linger == 0.0
