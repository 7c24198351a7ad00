"""The stall measure itself (`tests/outside.py`): a client in another thread sees the
time the app holds its event loop, which a client on that loop can't."""
from __future__ import annotations

import asyncio
import time

from aiohttp import web

from tests.outside import Outside, Pinger


async def test_a_client_outside_sees_the_app_holding_its_loop(aiohttp_client) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    client = await aiohttp_client(app)
    pinger = Pinger(str(client.make_url("/healthz")))
    async with Outside(pinger):
        while pinger.count < 3:
            await asyncio.sleep(0.01)
        quick = pinger.slowest
        time.sleep(0.25)  # the app's loop held, as a long synchronous step would
        await asyncio.sleep(0.05)
    assert quick < 0.2
    assert pinger.slowest >= 0.2
