"""Wrong verification codes per MAC, counted the same way whether or not any tenant holds it.

A device provisioning itself names a MAC and a code. So that neither the answers nor their
timing tell a caller which MACs are registered, every wrong code counts against its MAC in
an `AttemptCounter` (for a registered MAC or not, in any state), and no count is a durable
write. `DeviceService` refuses a MAC whose count reached the limit; only when that happens
to a registered device waiting on activation is its lockout made durable (once, with its
audit event and a notice to the admin). A new code from the admin clears the MAC's count.

The counter is an interface so that several instances share one: `MemoryAttemptCounter`
is the one-process implementation, `storage.postgres.attempts` counts in the database.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol


class AttemptCounter(Protocol):
    """Wrong codes entered per canonical MAC since its last new code (or ever)."""

    async def failures(self, mac: str) -> int:
        """How many wrong codes are counted against `mac` (0 if none)."""

    async def add_failure(self, mac: str) -> int:
        """Count one more wrong code against `mac`; the count now."""

    async def clear(self, macs: Sequence[str]) -> None:
        """Forget these MACs' counts: the admin issued them new codes."""


class MemoryAttemptCounter:
    """An `AttemptCounter` in this process's memory, bounded: past `max_tracked` MACs, the
    one whose last wrong code is oldest is forgotten. A restart forgets every count (a
    lockout already made durable on a device stays)."""

    MAX_TRACKED = 100_000

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self._max_tracked = max_tracked
        self._counts: OrderedDict[str, int] = OrderedDict()  # least recently failed first

    async def failures(self, mac: str) -> int:
        return self._counts.get(mac, 0)

    async def add_failure(self, mac: str) -> int:
        count = self._counts.pop(mac, 0) + 1
        self._counts[mac] = count
        if len(self._counts) > self._max_tracked:
            self._counts.popitem(last=False)
        return count

    async def clear(self, macs: Sequence[str]) -> None:
        for mac in macs:
            self._counts.pop(mac, None)

    def __len__(self) -> int:
        return len(self._counts)
