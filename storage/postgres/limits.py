"""Attempts per key per window, counted in the shared database (device API rate limit).

Fixed windows of `window` seconds: each attempt is one upsert that returns the window's
count, so every instance behind the endpoint counts against the same limit. Windows
older than the current one are removed now and then.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import asyncpg

from storage.postgres.errors import database_errors

PRUNE_EVERY = 1000  # attempts between clean-ups of old windows


class PostgresAttemptLimit:
    def __init__(self, pool: asyncpg.Pool, limit: int, window: int, now: Callable[[], float] = time.time) -> None:
        self._pool = pool
        self._limit = limit
        self._window = window
        self._now = now
        self._until_prune = 0

    async def check(self, key: str) -> int:
        now = self._now()
        start = int(now // self._window) * self._window
        with database_errors():
            hits = await self._count(key, start)
        if hits <= self._limit:
            return 0
        return max(1, math.ceil(start + self._window - now))

    async def _count(self, key: str, start: int) -> int:
        async with self._pool.acquire() as connection:
            hits: int = await connection.fetchval(
                "INSERT INTO attempts (key, window_start, hits) VALUES ($1, $2, 1) "
                "ON CONFLICT (key, window_start) DO UPDATE SET hits = attempts.hits + 1 RETURNING hits", key, start)
            self._until_prune -= 1
            if self._until_prune <= 0:
                self._until_prune = PRUNE_EVERY
                await connection.execute("DELETE FROM attempts WHERE window_start < $1", start)
        return hits
