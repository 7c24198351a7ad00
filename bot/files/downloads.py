"""Short-lived download links for the files the bot hands out (export, template, rejected
rows), served under `PUBLIC_URL` at `GET /downloads/{token}`.

A link is a random 256-bit token (unguessable), made for one tenant's file and kept with
that tenant's id, and it expires (one hour by default). Files live in memory only: they
hold verification codes, and a link should not outlive the process that made it. Only
the token's SHA-256 is kept as the key, so nothing in memory is a usable link by itself.
An expired link answers 410 (for a day after expiry), any other unknown token 404.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from aiohttp import web

from bot.files.csvfile import CSV_CONTENT_TYPE
from provisioning.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_LINK_TTL: Final = timedelta(hours=1)
DOWNLOAD_PATH: Final = "/downloads"
MAX_STORED_BYTES: Final = 64 * 1024 * 1024  # oldest files are dropped beyond this
EXPIRED_KEPT_FOR: Final = timedelta(days=1)  # how long an expired link still answers 410
MAX_EXPIRED_KEPT: Final = 10_000
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkUnknown(Exception):
    """No file behind this token (never issued, forged, or for another tenant)."""


class LinkUsed(Exception):
    """A file offer that was already answered (taken once, by an accept or a decline)."""


class LinkExpired(Exception):
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
class DownloadLink:
    token: str  # a secret: put it in a URL for the admin, never in a log
    expires_at: datetime


class DownloadStore:
    """Files waiting to be downloaded, by token hash; every call is given the time."""

    def __init__(self, ttl: timedelta = DEFAULT_LINK_TTL, max_bytes: int = MAX_STORED_BYTES) -> None:
        self.ttl = ttl
        self._max_bytes = max_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()  # oldest first
        self._expired: OrderedDict[str, datetime] = OrderedDict()
        self._taken: OrderedDict[str, datetime] = OrderedDict()  # offers answered, so a repeat says so
        self._bytes = 0

    def put(self, tenant_id: str, name: str, content: bytes, now: datetime,
            content_type: str = CSV_CONTENT_TYPE) -> DownloadLink:
        self._purge(now)
        token = secrets.token_urlsafe(32)
        expires_at = now + self.ttl
        self._files[_key(token)] = StoredFile(tenant_id, name, content, content_type, expires_at)
        self._bytes += len(content)
        while self._bytes > self._max_bytes and len(self._files) > 1:
            key, dropped = self._files.popitem(last=False)
            self._bytes -= len(dropped.content)
            self._remember_expired(key, now)
        return DownloadLink(token, expires_at)

    def get(self, token: str, now: datetime, tenant_id: str | None = None) -> StoredFile:
        """The file behind `token` (and of `tenant_id`, when given); LinkUnknown or LinkExpired."""
        if not _TOKEN.fullmatch(token):
            raise LinkUnknown()
        self._purge(now)
        key = _key(token)
        found = self._files.get(key)
        if found is None:
            if key in self._expired:
                raise LinkExpired(self._expired[key])
            raise LinkUnknown()
        if tenant_id is not None and found.tenant_id != tenant_id:
            raise LinkUnknown()
        return found

    def take(self, token: str, now: datetime, tenant_id: str) -> StoredFile:
        """Like `get`, and the file is gone afterwards: a file-consent offer is answered once.
        Taking it again raises `LinkUsed`. Synchronous, so two answers can't both take it."""
        if _TOKEN.fullmatch(token) and _key(token) in self._taken:
            raise LinkUsed()
        found = self.get(token, now, tenant_id)
        key = _key(token)
        dropped = self._files.pop(key)
        self._bytes -= len(dropped.content)
        self._taken[key] = now
        return found

    def _purge(self, now: datetime) -> None:
        for key in [k for k, f in self._files.items() if f.expires_at <= now]:
            dropped = self._files.pop(key)
            self._bytes -= len(dropped.content)
            self._remember_expired(key, dropped.expires_at)
        for kept in (self._expired, self._taken):
            while kept and (len(kept) > MAX_EXPIRED_KEPT or next(iter(kept.values())) + EXPIRED_KEPT_FOR <= now):
                kept.popitem(last=False)

    def _remember_expired(self, key: str, at: datetime) -> None:
        self._expired[key] = at


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def download_url(public_url: str, link: DownloadLink) -> str:
    return f"{public_url.rstrip('/')}{DOWNLOAD_PATH}/{link.token}"


def add_download_route(router: web.UrlDispatcher, downloads: DownloadStore, clock: Clock) -> None:
    """`GET /downloads/{token}`: the file as an attachment, 404 or 410 with what to do."""

    async def download(request: web.Request) -> web.Response:
        try:
            stored = downloads.get(request.match_info["token"], clock.now())
        except LinkExpired as expired:
            return _text(410, f"This download link expired at {expired.expired_at:%Y-%m-%d %H:%M} UTC. "
                              "Links from provisioning-bot work for one hour: ask the bot again "
                              "(type `export`, `template`, or upload the file again).")
        except LinkUnknown:
            return _text(404, "This download link is not valid: it was never issued, was mistyped, "
                              "or the bot restarted since. Ask the bot for a new one (type `export` or `template`).")
        log.info("download of %s for tenant %s", stored.name, stored.tenant_id)
        return web.Response(body=stored.content, headers={
            "Content-Type": stored.content_type,
            "Content-Disposition": f'attachment; filename="{_ascii_name(stored.name)}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })

    router.add_get(DOWNLOAD_PATH + "/{token}", download)


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers={"Cache-Control": "no-store"})


def _ascii_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "download.csv"
