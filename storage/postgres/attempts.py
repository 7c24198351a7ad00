"""Wrong verification codes per MAC, counted in the shared database (`AttemptCounter`).

So that a MAC locks after the same number of wrong codes however many instances the
device's requests reach. Each call is one statement; counts untouched for a day are
removed now and then (a MAC locked that long and never given a new code is unregistered
or forgotten; an admin's new code clears its count anyway).
"""
from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

from storage.postgres.errors import database_errors

PRUNE_EVERY = 1000  # counted failures between clean-ups


class PostgresAttemptCounter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._until_prune = 0

    async def failures(self, mac: str) -> int:
        with database_errors():
            async with self._pool.acquire() as connection:
                count = await connection.fetchval("SELECT failures FROM code_failures WHERE mac = $1", mac)
        return int(count or 0)

    async def add_failure(self, mac: str) -> int:
        with database_errors():
            async with self._pool.acquire() as connection:
                count: int = await connection.fetchval(
                    "INSERT INTO code_failures (mac, failures, last_at) VALUES ($1, 1, now()) ON CONFLICT (mac) "
                    "DO UPDATE SET failures = code_failures.failures + 1, last_at = now() RETURNING failures", mac)
                self._until_prune -= 1
                if self._until_prune <= 0:
                    self._until_prune = PRUNE_EVERY
                    await connection.execute("DELETE FROM code_failures WHERE last_at < now() - interval '1 day'")
        return count

    async def clear(self, macs: Sequence[str]) -> None:
        if not macs:
            return
        with database_errors():
            async with self._pool.acquire() as connection:
                # One JSON text, not a text[]: the driver encodes a 50,000-element array (a bulk
                # `code all`) element by element on the event loop (~40 ms).
                await connection.execute(
                    "DELETE FROM code_failures WHERE mac IN (SELECT jsonb_array_elements_text($1::jsonb))",
                    orjson.dumps(list(macs)).decode())
