"""A local aiohttp server that plays the Bot Framework connector (the `serviceUrl`).

Replies the bot sends over HTTP land here, as they would at Teams' or the Emulator's
connector: `POST /v3/conversations/{id}/activities/{replyToId}` (reply),
`POST /v3/conversations/{id}/activities` (send), `PUT .../activities/{id}` (update).
It can also serve attachment bytes and misbehave as real connectors do: fail a number
of sends (503), throttle (429, with or without `Retry-After`), answer late, and close a
kept-alive connection as a request arrives on it (a peer closing idle connections, as
the Agents Playground and Node servers do, caught at the worst moment).
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Received:
    method: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None


@dataclass
class FakeConnector:
    received: list[Received] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    fail_sends: int = 0  # answer 503 to this many sends before accepting again
    throttle: list[str | None] = field(default_factory=list)  # answer 429 to the next sends; each: Retry-After or None
    delay: float = 0.0  # answer every request this many seconds late
    drop_reused: bool = False  # close a connection, unanswered, when a second request arrives on it
    answered_429: int = 0
    dropped: int = 0
    _connections: set[object] = field(default_factory=set)  # transports that have served a request
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/v3/attachments/{name}/views/original", self._file)
        return app

    async def _record(self, request: web.Request, method: str) -> web.Response:
        if self.drop_reused:
            connection = request.transport
            if connection in self._connections and request.transport is not None:
                self.dropped += 1
                request.transport.close()
                return web.Response(status=500)  # never reaches the client
            self._connections.add(connection)
        if self.delay:
            await asyncio.sleep(self.delay)
        if method != "update" and self.throttle:
            retry_after = self.throttle.pop(0)
            self.answered_429 += 1
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return web.json_response({"error": {"code": "Throttled"}}, status=429, headers=headers)
        if method != "update" and self.fail_sends > 0:
            self.fail_sends -= 1
            return web.json_response({"error": {"code": "ServiceUnavailable"}}, status=503)
        body = await request.json()
        self.received.append(Received(method, request.match_info["cid"], request.match_info.get("aid"),
                                      body, request.headers.get("Authorization")))
        self._arrived.set()
        new_id = request.match_info.get("aid") if method == "update" else f"act-{next(self._ids)}"
        return web.json_response({"id": new_id})

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record(request, "reply")

    async def _send(self, request: web.Request) -> web.Response:
        return await self._record(request, "send")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record(request, "update")

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    def activities(self, method: str | None = None) -> list[dict[str, Any]]:
        return [r.body for r in self.received if method is None or r.method == method]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least `count` activities arrived (proactive sends come later)."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.activities()


@asynccontextmanager
async def serving(fake: FakeConnector, port: int | None = None) -> AsyncIterator[tuple[FakeConnector, str]]:
    """Run a fake connector on a local port (any free one, or `port`); yields it with its service URL."""
    server = TestServer(fake.app(), port=port)
    await server.start_server()
    try:
        yield fake, str(server.make_url("/"))
    finally:
        await server.close()
