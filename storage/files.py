"""Short-lived files behind unguessable links: exports, templates, rejected rows.

A file is put for one tenant and gets a random 256-bit token (the link's secret) and an
expiry (one hour by default). Only the token's SHA-256 is kept, so nothing stored is a
usable link by itself. `get` finds a file by token (and tenant, when given); `take` also
removes it, once: a file-consent offer is answered once, whichever instance answers. An
expired link is told apart from an unknown one for a day after expiry.

`MemoryFileStash` keeps files in the process (the embedded, single-process setup: a
link does not outlive the process that made it); `storage.postgres.files` keeps them in
the shared database so a link made by one instance works at another.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

DEFAULT_TTL: Final = timedelta(hours=1)
EXPIRED_KEPT_FOR: Final = timedelta(days=1)  # how long an expired link is still told apart
MAX_STORED_BYTES: Final = 64 * 1024 * 1024  # in memory: oldest files are dropped beyond this
MAX_EXPIRED_KEPT: Final = 10_000
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class FileUnknown(Exception):
    """No file behind this token (never issued, forged, or for another tenant)."""


class FileTaken(Exception):
    """A file offer that was already answered (taken once, by an accept or a decline)."""


class FileExpired(Exception):
    def __init__(self, expired_at: datetime) -> None:
        super().__init__(expired_at.isoformat())
        self.expired_at = expired_at


@dataclass(frozen=True)
class StoredFile:
    tenant_id: str
    name: str
    content: bytes
    content_type: str
    expires_at: datetime


@dataclass(frozen=True)
class FileLink:
    token: str  # a secret: put it in a URL for the admin, never in a log
    expires_at: datetime


class FileStash(Protocol):
    """Where files behind links are kept; every call is given the time."""

    async def put(self, tenant_id: str, name: str, content: bytes, now: datetime,
                  content_type: str = CSV_CONTENT_TYPE) -> FileLink: ...

    async def get(self, token: str, now: datetime, tenant_id: str | None = None) -> StoredFile:
        """The file behind `token` (of `tenant_id`, when given); FileUnknown or FileExpired."""
        ...

    async def take(self, token: str, now: datetime, tenant_id: str) -> StoredFile:
        """Like `get`, and the file is gone afterwards; a second take raises FileTaken."""
        ...


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_key(token: str) -> str | None:
    """What a token is stored under (its SHA-256), or None if it can't be one of ours."""
    if not _TOKEN.fullmatch(token):
        return None
    return hashlib.sha256(token.encode()).hexdigest()


class MemoryFileStash:
    """Files in this process's memory, bounded by total size."""

    def __init__(self, ttl: timedelta = DEFAULT_TTL, max_bytes: int = MAX_STORED_BYTES) -> None:
        self.ttl = ttl
        self._max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()  # oldest first
        self._expired: OrderedDict[str, datetime] = OrderedDict()
        self._taken: OrderedDict[str, datetime] = OrderedDict()  # offers answered, so a repeat says so
        self._bytes = 0

    async def put(self, tenant_id: str, name: str, content: bytes, now: datetime,
                  content_type: str = CSV_CONTENT_TYPE) -> FileLink:
        self._purge(now)
        token = new_token()
        expires_at = now + self.ttl
        key = token_key(token)
        assert key is not None
        self._files[key] = StoredFile(tenant_id, name, content, content_type, expires_at)
        self._bytes += len(content)
        while self._bytes > self._max_bytes and len(self._files) > 1:
            dropped_key, dropped = self._files.popitem(last=False)
            self._bytes -= len(dropped.content)
            self._expired[dropped_key] = now
        return FileLink(token, expires_at)

    async def get(self, token: str, now: datetime, tenant_id: str | None = None) -> StoredFile:
        return self._get(token, now, tenant_id)

    async def take(self, token: str, now: datetime, tenant_id: str) -> StoredFile:
        # No await before the file is gone: two answers can't both take it.
        key = token_key(token)
        if key is not None and key in self._taken:
            raise FileTaken()
        found = self._get(token, now, tenant_id)
        assert key is not None
        dropped = self._files.pop(key)
        self._bytes -= len(dropped.content)
        self._taken[key] = now
        return found

    def _get(self, token: str, now: datetime, tenant_id: str | None) -> StoredFile:
        key = token_key(token)
        if key is None:
            raise FileUnknown()
        self._purge(now)
        found = self._files.get(key)
        if found is None:
            if key in self._expired:
                raise FileExpired(self._expired[key])
            raise FileUnknown()
        if tenant_id is not None and found.tenant_id != tenant_id:
            raise FileUnknown()
        return found

    def _purge(self, now: datetime) -> None:
        for key in [k for k, f in self._files.items() if f.expires_at <= now]:
            dropped = self._files.pop(key)
            self._bytes -= len(dropped.content)
            self._expired[key] = dropped.expires_at
        for kept in (self._expired, self._taken):
            while kept and (len(kept) > MAX_EXPIRED_KEPT or next(iter(kept.values())) + EXPIRED_KEPT_FOR <= now):
                kept.popitem(last=False)
