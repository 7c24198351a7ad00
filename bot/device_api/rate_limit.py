"""Attempts per client address per minute on the device API.

`RateLimiter` keeps them in this process's memory (a sliding window), for the embedded
store's single process; with PostgreSQL, `storage.postgres.limits` counts them in the
shared database, so several instances behind one endpoint enforce one limit.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol


class AttemptLimit(Protocol):
    async def check(self, key: str) -> int:
        """Count one attempt for `key`; 0 if allowed, else seconds until one is."""
        ...

    async def close(self) -> None:
        """Stop any background work (the app is stopping)."""
        ...


MAX_TRACKED_KEYS = 100_000  # bounds memory if many addresses knock once each


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, now: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window_seconds
        self._now = now
        self._hits: dict[str, deque[float]] = {}

    async def check(self, key: str) -> int:
        """Count one attempt for `key`; 0 if allowed, else seconds until one is."""
        now = self._now()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= MAX_TRACKED_KEYS:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return max(1, math.ceil(hits[0] + self._window - now))
        hits.append(now)
        return 0

    async def close(self) -> None:
        """Nothing runs in the background here."""

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self._window]:
            del self._hits[key]
