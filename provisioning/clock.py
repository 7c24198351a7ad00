"""The time source the rules read, so tests can move time instead of sleeping.

Every `now()` is timezone-aware UTC: expiry arithmetic and stored timestamps never mix
naive and aware datetimes.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

# A fixed default start keeps tests that print or store times deterministic.
_FAKE_EPOCH = datetime(2025, 1, 1, 9, 0, 0, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to: `advance()` or `set()`."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _as_utc(start) if start is not None else _FAKE_EPOCH

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **timedelta_kwargs: float) -> datetime:
        """Move forward by `seconds` plus any `timedelta` arguments; return the new now."""
        step = timedelta(seconds=seconds, **timedelta_kwargs)
        if step < timedelta(0):
            # Going back is almost always a test bug; `set()` says so explicitly.
            raise ValueError(f"advance() only moves forward; use set() to go back ({step})")
        self._now += step
        return self._now

    def set(self, dt: datetime) -> None:
        """Jump to `dt` (aware; converted to UTC)."""
        self._now = _as_utc(dt)


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: give a timezone-aware one")
    return dt.astimezone(UTC)
