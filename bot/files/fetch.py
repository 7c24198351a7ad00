"""Moving file bytes over HTTP, only to and from hosts that can legitimately hold them.

An attachment's URL comes from the activity, so anyone who can post to the bot can name
any URL; following it blindly would let them make the bot reach internal services
(server-side request forgery). So every URL, including each redirect's target, must name
either the activity's own `serviceUrl` host (the Emulator serves attachments there, over
http or https) or a host in `DOWNLOAD_HOSTS` (Teams/SharePoint; https only). Downloads are
capped while streaming (a lying or missing Content-Length changes nothing), time-boxed,
and carry no cookies and no credentials of the bot.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import aiohttp
from yarl import URL

from bot.files.errors import FileRefused

FETCH_TIMEOUT_SECONDS: Final = 20.0
MAX_REDIRECTS: Final = 3
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts file URLs may name: the conversation's service and an allow-list."""

    service_host: str | None  # the activity's serviceUrl host: http or https
    allowed: tuple[str, ...]  # host names or `*.domain` patterns: https only
    service_port: int | None = None  # and its port: not any other service on that host

    @classmethod
    def for_activity(cls, service_url: str | None, allowed: Iterable[str]) -> HostPolicy:
        service = URL(service_url) if service_url else None
        host = _host(service) if service is not None else None
        port = service.port if service is not None else None
        return cls(host or None, tuple(h.lower().rstrip(".") for h in allowed), port)

    def check(self, url: str | URL, action: str, *, redirected: bool = False) -> URL:
        """`url` parsed, if it may be used; FileRefused saying why not. `action` completes
        "I won't ..." (e.g. "download **devices.csv**")."""
        try:
            target = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError):
            raise FileRefused(f"I won't {action}: its link is not a valid URL.") from None
        host = _host(target)
        how = "the download redirected to" if redirected else "the link points to"
        if target.scheme not in ("http", "https") or not host:
            raise FileRefused(f"I won't {action}: {how} a `{target.scheme or 'relative'}` address, "
                              "and I only use http(s) links. Attach the file to a message in this chat.")
        if target.user or target.password:
            raise FileRefused(f"I won't {action}: {how} a URL with a user name or password in it.")
        if host == self.service_host and (self.service_port is None or target.port == self.service_port):
            return target
        if self._listed(host):
            if target.scheme != "https":
                raise FileRefused(f"I won't {action}: {how} `{host}` over plain http; "
                                  "files from Teams or SharePoint must come over https.")
            return target
        service = f" (`{self.service_host}:{self.service_port}`)" if self.service_host else ""
        where = f"{host[:80]}:{target.port}" if host == self.service_host else host[:80]
        raise FileRefused(
            f"I won't {action}: {how} `{where}`, which is not a host I fetch files from. I only use "
            f"this conversation's own service{service} and the Teams/SharePoint hosts the bot's operator "
            "allowed (DOWNLOAD_HOSTS), so a link can't make me reach anything else. "
            "Attach the file to a message in this chat."
        )

    def _listed(self, host: str) -> bool:
        for pattern in self.allowed:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False


def _host(url: URL) -> str:
    return (url.host or "").lower().rstrip(".")


async def fetch_file(url: str, policy: HostPolicy, *, name: str, max_bytes: int,
                     timeout: float = FETCH_TIMEOUT_SECONDS) -> bytes:
    """The file's bytes, at most `max_bytes`; FileRefused for every way it can't be had."""
    action = f"download **{name}**"
    target = policy.check(url, action)
    try:
        async with _session(timeout) as session:
            for _ in range(MAX_REDIRECTS + 1):
                async with session.get(target, allow_redirects=False) as response:
                    if response.status in _REDIRECT_STATUSES:
                        location = response.headers.get("Location", "")
                        if not location:
                            break
                        target = policy.check(target.join(URL(location)), action, redirected=True)
                        continue
                    if response.status != 200:
                        raise FileRefused(f"I couldn't download **{name}**: the file's host answered HTTP "
                                          f"{response.status}. The link may have expired: send the file again.")
                    return await _read_capped(response, max_bytes, name)
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise FileRefused(f"Downloading **{name}** took longer than {timeout:g} s, so I stopped. "
                          "Send it again; if it keeps happening, send a smaller file.") from None
    except aiohttp.ClientError as error:
        raise FileRefused(f"I couldn't download **{name}** (the connection failed: {type(error).__name__}). "
                          "Send the file again.") from None
    raise FileRefused(f"I couldn't download **{name}**: its link kept redirecting. Send the file again.")


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int, name: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        response.close()
        raise _too_large(name, max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body.extend(chunk)
        if len(body) > max_bytes:
            # Closing drops the connection: the rest of the stream is never read.
            response.close()
            raise _too_large(name, max_bytes)
    return bytes(body)


def _too_large(name: str, max_bytes: int) -> FileRefused:
    return FileRefused(f"**{name}** is larger than {format_size(max_bytes)}, the most I accept, so I stopped "
                       "downloading it and changed nothing. Split it into smaller files and send them one by one.")


def format_size(size: int) -> str:
    """`5 MB`, `1.5 MB`, `64 KB`."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, size // 1024)} KB"


async def put_file(url: str, policy: HostPolicy, content: bytes, *, timeout: float = FETCH_TIMEOUT_SECONDS) -> None:
    """Upload `content` in one request to a Teams FileConsent `uploadUrl` (a OneDrive
    upload session); FileRefused if the host is not allowed or the upload fails."""
    target = policy.check(url, "upload the file")
    size = len(content)
    headers = {"Content-Range": f"bytes 0-{size - 1}/{size}", "Content-Type": "application/octet-stream"}
    try:
        async with _session(timeout) as session, \
                session.put(target, data=content, headers=headers, allow_redirects=False) as response:
            if response.status not in (200, 201):
                raise FileRefused(f"Teams did not accept the file (HTTP {response.status}). Ask for it again.")
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise FileRefused(f"Uploading the file to Teams took longer than {timeout:g} s. Ask for it again.") from None
    except aiohttp.ClientError as error:
        raise FileRefused(f"I couldn't upload the file to Teams ({type(error).__name__}). Ask for it again.") from None


def _session(timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),  # no state carried between hosts
        trust_env=False,  # no proxy from the environment: the allow-list is the whole story
        headers={"User-Agent": "provisioning-bot"},
    )
