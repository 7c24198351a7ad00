"""Attempts per key per window, counted in the shared database (device API rate limit).

Fixed windows of `window` seconds. Each instance counts attempts in memory and sends
what it counted to the database in one statement, which adds them to the windows' shared
counts and answers the totals. It syncs at most every `SYNC_SECONDS`: a request waits on
the database only when this instance's totals are older than that, so a busy address
(every attempt would otherwise queue on one row's lock) costs one statement per
`SYNC_SECONDS`, and every instance behind the endpoint counts against the same limit, each
learning the others' attempts within `SYNC_SECONDS`. Windows older than the current one
are removed now and then.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Final

import asyncpg

from storage.postgres.errors import DATABASE_ERRORS

log = logging.getLogger(__name__)

SYNC_SECONDS: Final = 0.2
PRUNE_EVERY: Final = 300  # syncs between clean-ups of old windows

Window = tuple[str, int]  # (key, window start)


class PostgresAttemptLimit:
    def __init__(self, pool: asyncpg.Pool, limit: int, window: int, now: Callable[[], float] = time.time) -> None:
        self._pool = pool
        self._limit = limit
        self._window = window
        self._now = now
        self._unsent: dict[Window, int] = {}  # counted here, not yet in the database
        self._shared: dict[Window, int] = {}  # the database's totals at the last sync
        self._sync: asyncio.Task[None] | None = None  # the sync under way
        self._later: asyncio.Task[None] | None = None  # the next sync of what was counted
        self._synced_at = float("-inf")
        self._until_prune = 0

    async def check(self, key: str) -> int:
        now = self._now()
        start = int(now // self._window) * self._window
        window = (key, start)
        if now - self._synced_at > SYNC_SECONDS:
            await self._synced(window)
        if self._shared.get(window, 0) + self._unsent.get(window, 0) >= self._limit:
            return max(1, math.ceil(start + self._window - now))
        self._unsent[window] = self._unsent.get(window, 0) + 1
        if self._later is None or self._later.done():
            self._later = asyncio.get_running_loop().create_task(self._sync_later())
        return 0

    async def _sync_later(self) -> None:
        await asyncio.sleep(SYNC_SECONDS)
        await self._synced(None)

    async def _synced(self, window: Window | None) -> None:
        """Send what was counted here (and ask for `window`'s total); one sync at a time."""
        if self._sync is None or self._sync.done():
            self._sync = asyncio.get_running_loop().create_task(self._send(window))
        await asyncio.shield(self._sync)

    async def _send(self, window: Window | None) -> None:
        unsent, self._unsent = self._unsent, {}
        if window is not None:
            unsent.setdefault(window, 0)
        self._synced_at = self._now()
        if not unsent:
            return
        try:
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(
                    "INSERT INTO attempts (key, window_start, hits) "
                    "SELECT k, w, h FROM unnest($1::text[], $2::int8[], $3::int4[]) AS u(k, w, h) "
                    "ON CONFLICT (key, window_start) DO UPDATE SET hits = attempts.hits + excluded.hits "
                    "RETURNING key, window_start, hits",
                    [k for k, _ in unsent], [w for _, w in unsent], list(unsent.values()))
                self._until_prune -= 1
                if self._until_prune <= 0:
                    self._until_prune = PRUNE_EVERY
                    oldest = int(self._now() // self._window) * self._window
                    await connection.execute("DELETE FROM attempts WHERE window_start < $1", oldest)
        except DATABASE_ERRORS as error:
            # Counted here still: sent with the next sync. The limit holds per instance meanwhile.
            log.warning("could not share the device API's attempt counts (%r); counting locally", error)
            for counted, hits in unsent.items():
                self._unsent[counted] = self._unsent.get(counted, 0) + hits
            return
        current = int(self._now() // self._window) * self._window
        self._shared = {counted: total for counted, total in self._shared.items() if counted[1] >= current}
        for row in rows:
            # Our own attempts are in the total now; those counted since are added on top.
            self._shared[(row["key"], row["window_start"])] = row["hits"]

    async def close(self) -> None:
        for task in (self._later, self._sync):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
