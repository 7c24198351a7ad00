"""Files behind download links and file offers, in the shared database.

The same contract as `storage.files.MemoryFileStash`, for several instances: a link made
by one downloads from any other, and `take` is one conditional update, so of two answers
to one offer (at one instance or two) exactly one gets the file. An expired file's bytes
are removed; its row is kept a day so the link is told apart from an unknown one.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from storage.files import (
    CSV_CONTENT_TYPE,
    DEFAULT_TTL,
    EXPIRED_KEPT_FOR,
    FileExpired,
    FileLink,
    FileTaken,
    FileUnknown,
    StoredFile,
    new_token,
    token_key,
)
from storage.postgres.errors import database_errors


class PostgresFileStash:
    def __init__(self, pool: asyncpg.Pool, ttl: timedelta = DEFAULT_TTL) -> None:
        self._pool = pool
        self.ttl = ttl

    async def put(self, tenant_id: str, name: str, content: bytes, now: datetime,
                  content_type: str = CSV_CONTENT_TYPE) -> FileLink:
        token = new_token()
        key = token_key(token)
        expires_at = now + self.ttl
        with database_errors():
            await self._put(key, tenant_id, name, content, content_type, expires_at, now)
        return FileLink(token, expires_at)

    async def _put(self, key: str | None, tenant_id: str, name: str, content: bytes, content_type: str,
                   expires_at: datetime, now: datetime) -> None:
        async with self._pool.acquire() as connection:
            await self._purge(connection, now)
            await connection.execute(
                "INSERT INTO files (token_hash, tenant_id, name, content, content_type, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)", key, tenant_id, name, content, content_type, expires_at)

    async def get(self, token: str, now: datetime, tenant_id: str | None = None) -> StoredFile:
        key = token_key(token)
        if key is None:
            raise FileUnknown()
        with database_errors():
            async with self._pool.acquire() as connection:
                row = await connection.fetchrow("SELECT * FROM files WHERE token_hash = $1", key)
        return _found(row, now, tenant_id)

    async def take(self, token: str, now: datetime, tenant_id: str) -> StoredFile:
        key = token_key(token)
        if key is None:
            raise FileUnknown()
        with database_errors():
            return await self._take(key, now, tenant_id)

    async def _take(self, key: str, now: datetime, tenant_id: str) -> StoredFile:
        async with self._pool.acquire() as connection:
            # One statement: of two concurrent takes, the second waits for the first's row
            # lock, then finds it taken and updates nothing.
            taken = await connection.fetchrow(
                "WITH target AS (SELECT token_hash, content FROM files WHERE token_hash = $1 AND tenant_id = $3 "
                "AND taken_at IS NULL AND expires_at > $2 FOR UPDATE) "
                "UPDATE files SET taken_at = $2, content = NULL FROM target WHERE files.token_hash = target.token_hash "
                "RETURNING files.tenant_id, files.name, files.content_type, files.expires_at, target.content",
                key, now, tenant_id)
            if taken is not None:
                return StoredFile(taken["tenant_id"], taken["name"], bytes(taken["content"]), taken["content_type"],
                                  taken["expires_at"])
            row = await connection.fetchrow("SELECT * FROM files WHERE token_hash = $1", key)
        if row is not None and row["taken_at"] is not None and row["tenant_id"] == tenant_id:
            raise FileTaken()
        _found(row, now, tenant_id)
        raise FileUnknown()  # unreachable: _found raised for every row the update did not take

    async def _purge(self, connection: asyncpg.Connection, now: datetime) -> None:
        await connection.execute("UPDATE files SET content = NULL WHERE expires_at <= $1 AND content IS NOT NULL", now)
        await connection.execute("DELETE FROM files WHERE expires_at <= $1", now - EXPIRED_KEPT_FOR)


def _found(row: asyncpg.Record | None, now: datetime, tenant_id: str | None) -> StoredFile:
    if row is None or (tenant_id is not None and row["tenant_id"] != tenant_id):
        raise FileUnknown()
    if row["expires_at"] <= now:
        if row["expires_at"] + EXPIRED_KEPT_FOR <= now:
            raise FileUnknown()
        raise FileExpired(row["expires_at"])
    if row["taken_at"] is not None or row["content"] is None:
        raise FileUnknown()
    return StoredFile(row["tenant_id"], row["name"], bytes(row["content"]), row["content_type"], row["expires_at"])
