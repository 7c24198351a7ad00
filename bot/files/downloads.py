"""Download links for the files the bot hands out (export, template, rejected rows),
served under `PUBLIC_URL` at `GET /downloads/{token}`.

The files and their tokens are kept by a `storage.files.FileStash`: in this process's
memory with the embedded store (a link does not outlive the process that made it), in
the database with PostgreSQL (a link made by one instance downloads from any other). An
expired link answers 410 (for a day after expiry), any other unknown token 404.
"""
from __future__ import annotations

import logging
import re
from typing import Final

from aiohttp import web

from provisioning.clock import Clock
from storage.files import FileExpired, FileLink, FileStash, FileUnknown

log = logging.getLogger(__name__)

DOWNLOAD_PATH: Final = "/downloads"


def download_url(public_url: str, link: FileLink) -> str:
    return f"{public_url.rstrip('/')}{DOWNLOAD_PATH}/{link.token}"


def add_download_route(router: web.UrlDispatcher, files: FileStash, clock: Clock) -> None:
    """`GET /downloads/{token}`: the file as an attachment, 404 or 410 with what to do."""

    async def download(request: web.Request) -> web.Response:
        try:
            stored = await files.get(request.match_info["token"], clock.now())
        except FileExpired as expired:
            return _text(410, f"This download link expired at {expired.expired_at:%Y-%m-%d %H:%M} UTC. "
                              "Links from provisioning-bot work for one hour: ask the bot again "
                              "(type `export`, `template`, or upload the file again).")
        except FileUnknown:
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
