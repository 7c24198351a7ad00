"""Outbound calls to Bot Framework connectors on the event loop: replies and notices.

Stock msrest sends every connector call with `requests` in a thread of the loop's
default executor (6 threads on 2 cores), its retry back-off sleeping in those threads.
One slow connector then held every thread, and whatever else used the default pool
(the store's flushes did) waited behind it; a cancelled task left its thread running,
so SIGTERM waited too. Here every `ConnectorClient` the adapter builds gets an msrest
pipeline whose sender is aiohttp, on the loop:

- **Timeouts**: each call, queueing for a slot included, has `timeout` seconds; then it
  raises `TimeoutError` (the turn apologises, a notice stays in the outbox).
- **Bounded concurrency**: at most `per_host` calls in flight to one connector host and
  `total` overall, so one hung or throttling connector holds at most `per_host` slots
  and never the device API, another tenant's turn or a store write (none of which wait
  for an outbound slot; the store has its own threads, see `storage/group_commit.py`).
- **Stale connections**: connections are pooled per host and dropped after
  `KEEPALIVE_SECONDS` idle, under the ~6 s after which Microsoft's Agents Playground
  closes them. A peer may still close an idle connection just as a request goes out on
  it; a call that fails that way on a *reused* connection before any response
  (`ServerDisconnectedError`, a connection reset or broken pipe) is sent once more on a
  fresh connection (a pool that never reuses). A request the peer never read is not a
  duplicate; one it read and then dropped may arrive twice, as any retry would.
- **Credentials**: the connector credentials (MSAL, synchronous, may do HTTP) are asked
  for the `Authorization` header in a dedicated one-thread executor, never on the loop
  or the default pool, and the header is reused for `TOKEN_REUSE_SECONDS` (MSAL hands out
  tokens with at least 5 minutes left); a 401 drops it so the next call asks again.

Nothing else in the pipeline changes: msrest's user-agent, (de)serialization and
logging policies run as before, so requests and bodies are what msrest would send.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http.aiohttp import AioHttpClientResponse

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 4.0  # idle pooled connections are closed after this (peers close theirs after 5 to 75 s)
TOKEN_REUSE_SECONDS = 240.0
_STALE_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


class StaleConnection(Exception):
    """A reused connection failed before any response (internal: triggers the one retry)."""


class OutboundHttp:
    """One aiohttp client for every connector call, with the limits in the module doc."""

    def __init__(self, *, timeout: float, per_host: int, total: int) -> None:
        self.timeout = timeout
        self.per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._total_limit = total
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._pooled: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self._token_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="connector-token")
        self.stale_retries = 0  # calls sent again after a stale connection (tests, benchmarks)

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        if self._pooled is None or self._fresh is None:
            trace = aiohttp.TraceConfig()
            trace.on_connection_reuseconn.append(_mark_reused)
            pooled = aiohttp.TCPConnector(limit=self._total_limit, keepalive_timeout=KEEPALIVE_SECONDS)
            self._pooled = aiohttp.ClientSession(connector=pooled, trace_configs=[trace], auto_decompress=True)
            fresh = aiohttp.TCPConnector(limit=self._total_limit, force_close=True)
            self._fresh = aiohttp.ClientSession(connector=fresh)
        return self._pooled, self._fresh

    def adopt(self, client: Any) -> None:
        """Make an msrest `ConnectorClient` send through this client (see module doc)."""
        config = client.config
        policies: list[Any] = [config.user_agent_policy, RawDeserializer(), config.http_logger_policy]
        if config.credentials:
            policies.insert(1, _CredentialsPolicy(config.credentials, self._token_executor))
        config.pipeline = AsyncPipeline(policies, _Sender(self))

    async def request(self, method: str, url: str, headers: dict[str, str], data: Any) -> tuple[
            aiohttp.ClientResponse, bytes]:
        """One call within the timeout and the slots; the response and its whole body."""
        host = urlsplit(url).netloc.lower()
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.per_host)
        pooled, fresh = self._sessions()
        async with asyncio.timeout(self.timeout), slot, self._total:
            try:
                return await self._once(pooled, method, url, headers, data, track=True)
            except StaleConnection as stale:
                self.stale_retries += 1
                log.info("connector %s closed a pooled connection under a request (%s); sending it again on a "
                         "fresh connection", host, stale)
                return await self._once(fresh, method, url, headers, data, track=False)

    async def _once(self, session: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], data: Any,
                    *, track: bool) -> tuple[aiohttp.ClientResponse, bytes]:
        context = SimpleNamespace(reused=False)
        try:
            async with session.request(method, url, headers=headers, data=data, allow_redirects=False,
                                       trace_request_ctx=context if track else None) as response:
                return response, await response.read()
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError) as error:
            if track and context.reused:
                raise StaleConnection(type(error).__name__) from error
            raise
        except aiohttp.ClientOSError as error:
            if track and context.reused and error.errno in _STALE_ERRNOS:
                raise StaleConnection(type(error).__name__) from error
            raise

    async def close(self) -> None:
        for session in (self._pooled, self._fresh):
            if session is not None:
                await session.close()
        self._pooled = self._fresh = None
        self._token_executor.shutdown(wait=False, cancel_futures=True)


async def _mark_reused(session: aiohttp.ClientSession, context: SimpleNamespace, params: object) -> None:
    request_context = context.trace_request_ctx
    if request_context is not None:
        request_context.reused = True


class _Response(AioHttpClientResponse):
    """msrest's aiohttp response with the body already read (an empty body is a body)."""

    def __init__(self, request: Any, response: aiohttp.ClientResponse, body: bytes) -> None:
        super().__init__(request, response)
        self._read = body

    def body(self) -> bytes:
        return self._read


class _Sender(AsyncHTTPSender):
    """The end of the msrest pipeline: the request goes out through `OutboundHttp`."""

    def __init__(self, http: OutboundHttp) -> None:
        self._http = http

    async def __aenter__(self) -> _Sender:
        return self

    async def __aexit__(self, *exc_details: object) -> None:
        return None

    def build_context(self) -> None:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http_request = request.http_request
        if http_request.files:
            raise NotImplementedError("multipart uploads to the connector are not used by this bot")
        headers = {name: str(value) for name, value in http_request.headers.items()}
        response, body = await self._http.request(http_request.method, http_request.url, headers, http_request.data)
        return Response(request, _Response(http_request, response, body))


class _CredentialsPolicy(AsyncHTTPPolicy):
    """Puts the credentials' `Authorization` header on each call without blocking the loop."""

    def __init__(self, credentials: Any, executor: ThreadPoolExecutor) -> None:
        super().__init__()
        self._credentials = credentials
        self._executor = executor
        self._header: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def _authorization(self) -> str | None:
        if time.monotonic() < self._until:
            return self._header
        async with self._lock:
            if time.monotonic() >= self._until:
                loop = asyncio.get_running_loop()
                self._header = await loop.run_in_executor(self._executor, self._signed_header)
                self._until = time.monotonic() + TOKEN_REUSE_SECONDS
        return self._header

    def _signed_header(self) -> str | None:
        # msrest's credentials protocol: sign a requests session (no app id: no header).
        session = self._credentials.signed_session()
        header = session.headers.get("Authorization")
        session.close()
        return str(header) if header else None

    async def send(self, request: Request, **kwargs: Any) -> Response:
        header = await self._authorization()
        headers = request.http_request.headers
        if header:
            headers["Authorization"] = header
        else:
            headers.pop("Authorization", None)
        assert self.next is not None  # the pipeline links every policy to the next
        response = await self.next.send(request, **kwargs)
        if response.http_response.status_code == 401:
            self._until = 0.0  # a revoked or rotated token: ask the credentials again next time
        return response
