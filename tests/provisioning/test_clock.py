"""The injectable clock: aware UTC always; the fake moves only when told."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from provisioning.clock import Clock, FakeClock, SystemClock


def _uses_clock(clock: Clock) -> datetime:
    return clock.now()


def test_system_clock_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    now = _uses_clock(SystemClock())
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


def test_fake_clock_stands_still_until_advanced() -> None:
    clock = FakeClock()
    first = clock.now()
    assert first.utcoffset() == timedelta(0)
    assert clock.now() == first


def test_fake_clock_default_start_is_fixed() -> None:
    assert FakeClock().now() == FakeClock().now()


def test_fake_clock_advances_by_seconds_and_timedelta_arguments() -> None:
    start = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    clock = FakeClock(start)
    assert clock.now() == start
    assert clock.advance(1.5) == start + timedelta(seconds=1.5)
    clock.advance(hours=24)
    clock.advance(seconds=10, minutes=1)
    assert clock.now() == start + timedelta(hours=24, minutes=1, seconds=11.5)
    clock.advance()
    assert clock.now() == start + timedelta(hours=24, minutes=1, seconds=11.5)


def test_fake_clock_refuses_to_advance_backwards() -> None:
    clock = FakeClock()
    before = clock.now()
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now() == before


def test_fake_clock_set_jumps_either_way_and_converts_to_utc() -> None:
    clock = FakeClock()
    clock.set(datetime(2020, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2020, 1, 1, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    clock.set(datetime(2031, 3, 4, 14, 0, tzinfo=plus_two))
    assert clock.now() == datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_fake_clock_start_is_converted_to_utc() -> None:
    minus_five = timezone(timedelta(hours=-5))
    clock = FakeClock(datetime(2030, 1, 1, 19, 0, tzinfo=minus_five))
    assert clock.now() == datetime(2030, 1, 2, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo == UTC


def test_fake_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        FakeClock(datetime(2030, 1, 1))
    clock = FakeClock()
    before = clock.now()
    with pytest.raises(ValueError):
        clock.set(datetime(2030, 1, 1))
    assert clock.now() == before
