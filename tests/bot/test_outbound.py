"""Issue 10: replies go out on the event loop, survive a peer closing a pooled connection,
and a slow connector delays neither the device API nor another conversation."""
from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import create_app
from bot.settings import Settings
from provisioning.clock import FakeClock
from tests.bot.chat import ChatDriver, texts_in
from tests.bot.connector import FakeConnector, serving


async def test_a_pooled_connection_closed_by_the_peer_is_retried_on_a_fresh_one(chat: ChatDriver) -> None:
    chat.connector.drop_reused = True
    for n in range(6):
        replies = await chat.say("help")
        assert replies, f"reply {n} was delivered"
        assert "Sorry" not in texts_in(replies)
    assert chat.connector.dropped >= 1, "the peer really closed pooled connections under requests"
    assert chat.services.outbound.stale_retries == chat.connector.dropped


async def test_replies_never_use_threads(chat: ChatDriver) -> None:
    loop = asyncio.get_running_loop()
    used: list[object] = []
    original = loop.run_in_executor

    def spy(executor, func, *args):
        used.append(func)
        return original(executor, func, *args)

    loop.run_in_executor = spy  # type: ignore[method-assign,assignment]
    try:
        for _ in range(3):
            assert await chat.say("help")
    finally:
        loop.run_in_executor = original  # type: ignore[method-assign]
    names = [getattr(f, "__qualname__", repr(f)) for f in used]
    assert not [n for n in names if "send" in n.lower() or "request" in n.lower()], names


async def test_a_slow_connector_delays_neither_the_device_api_nor_another_tenant(
        aiohttp_client, tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(data_dir=tmp_path / "data", outbound_timeout_seconds=30, outbound_per_host=4)
    async with serving(FakeConnector(delay=3.0)) as (slow, slow_url), serving(FakeConnector()) as (fast, fast_url):
        client = await aiohttp_client(await create_app(settings, clock=clock))
        slow_chat, fast_chat = ChatDriver(client, slow, slow_url), ChatDriver(client, fast, fast_url)
        hung = [asyncio.create_task(slow_chat.say("help")) for _ in range(8)]
        await asyncio.sleep(0.2)  # every slow turn is now waiting on its connector
        added = await fast_chat.say("add 00-1A-2B-3C-4D-5E Lobby")
        assert "00-1A-2B-3C-4D-5E" in str(added)
        health = await client.get("/healthz")
        assert health.status == 200
        assert not any(task.done() for task in hung), "the other conversation answered while the slow ones waited"
        assert not slow.received
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
