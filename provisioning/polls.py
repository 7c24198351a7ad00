"""RFC 8628 token-poll bookkeeping: when each sign-in grant was last polled, and its interval.

A device polls every few seconds while its admin has not approved yet. Remembering those
polls is bookkeeping, not state anyone must find after a restart, so it is never a store
write: only collecting an approved sign-in is durable. A poll that comes sooner than the
grant's interval after the previous one is answered `slow_down`, and the interval grows by
5 s for that poll and every later one (RFC 8628 section 3.5): a device polling too fast
costs a memory update and gets nothing but `slow_down`.

The tracker is an interface so that several instances can later share one (in the store);
`MemoryPollTracker` is the one-process implementation.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Protocol

SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5: add 5 s to the interval on slow_down


class PollTracker(Protocol):
    """Polls per grant, by a key that names one grant (never the device code itself)."""

    def poll(self, grant: str, now: datetime, interval: int) -> int | None:
        """Record a poll of `grant`, whose interval starts at `interval`; the grown interval
        if this poll came too soon (answer `slow_down`), else None."""

    def interval(self, grant: str, initial: int) -> int:
        """The interval the grant's device must keep now (`initial` if never slowed down)."""

    def forget(self, grant: str) -> None:
        """The grant ended (signed in): drop its bookkeeping."""


class MemoryPollTracker:
    """A `PollTracker` in this process's memory, bounded: past `max_tracked` grants, the one
    polled longest ago is forgotten (its device starts over at its grant's interval)."""

    MAX_TRACKED = 100_000

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self._max_tracked = max_tracked
        self._polls: OrderedDict[str, tuple[datetime, int]] = OrderedDict()  # grant -> (last poll, interval)

    def poll(self, grant: str, now: datetime, interval: int) -> int | None:
        last, interval = self._polls.pop(grant, (None, interval))
        too_soon = last is not None and now < last + timedelta(seconds=interval)
        if too_soon:
            interval += SLOW_DOWN_STEP
        self._polls[grant] = (now, interval)
        if len(self._polls) > self._max_tracked:
            self._polls.popitem(last=False)
        return interval if too_soon else None

    def interval(self, grant: str, initial: int) -> int:
        entry = self._polls.get(grant)
        return initial if entry is None else entry[1]

    def forget(self, grant: str) -> None:
        self._polls.pop(grant, None)

    def __len__(self) -> int:
        return len(self._polls)
