"""Issue 10: notices come from the durable outbox, coalesced per conversation, paced,
throttle-aware, and kept until delivered (or given up, with an error log)."""
from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from provisioning.clock import FakeClock
from provisioning.outbox import DeviceEvent, EventKind, notice_records
from tests.bot.chat import ChatDriver
from tests.bot.conftest import fast_notices
from tests.bot.connector import FakeConnector, serving

MAC = "00-1A-2B-3C-4D-5E"
TENANT = "local"  # the Emulator samples' tenant as the bot files it


def pending(chat: ChatDriver) -> list[str]:
    return [e.event.mac for e in chat.services.store.tenant(TENANT).pending_notices(100_000)]


async def followed(chat: ChatDriver) -> None:
    """The admin issued a code here: this conversation is where notices go."""
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")


async def add_events(chat: ChatDriver, macs: list[str], clock: FakeClock) -> None:
    events = [DeviceEvent(EventKind.PROVISIONED, TENANT, mac, clock.now(), f"Rack {n}", "T55A", "Yealink", "58.15")
              for n, mac in enumerate(macs)]
    await chat.services.store.tenant(TENANT).commit(records=notice_records(*events))
    chat.services.notices.wake()


def macs(count: int, start: int = 0) -> list[str]:
    return [f"02-00-00-00-{n // 256:02X}-{n % 256:02X}" for n in range(start, start + count)]


def named_in(activities: list[dict[str, Any]]) -> str:
    return json.dumps(activities)


async def test_one_event_is_one_prompt_text_message(chat: ChatDriver, clock: FakeClock) -> None:
    await followed(chat)
    before = len(chat.connector.received)
    await add_events(chat, macs(1), clock)
    sent = (await chat.connector.wait_for(before + 1, timeout=2))[before:]
    assert len(sent) == 1 and "02-00-00-00-00-00" in sent[0]["text"] and "was provisioned" in sent[0]["text"]
    assert await emptied(chat), "delivered entries are deleted from the outbox"


async def test_a_burst_of_500_becomes_a_few_digests_naming_every_device(chat: ChatDriver, clock: FakeClock) -> None:
    await followed(chat)
    before = len(chat.connector.received)
    burst = macs(500)
    for chunk in range(0, 500, 50):
        await add_events(chat, burst[chunk:chunk + 50], clock)
    notices = chat.services.notices
    assert await emptied(chat)
    sent = chat.connector.activities()[before:]
    assert 1 <= len(sent) <= 6, f"{len(sent)} messages for 500 devices"
    assert notices.messages_sent == len(sent)
    text = named_in(sent)
    assert all(mac in text for mac in burst), "every device is named in some digest"
    digest = next(a for a in sent if a.get("attachments"))
    card = digest["attachments"][0]["content"]
    assert "devices provisioned" in json.dumps(card) and digest.get("summary")


async def test_locked_devices_are_called_out_first(chat: ChatDriver, clock: FakeClock) -> None:
    await followed(chat)
    before = len(chat.connector.received)
    events = [DeviceEvent(EventKind.PROVISIONED, TENANT, mac, clock.now()) for mac in macs(5)]
    events.append(DeviceEvent(EventKind.LOCKED, TENANT, "02-00-00-00-09-09", clock.now(), "Lab"))
    await chat.services.store.tenant(TENANT).commit(records=notice_records(*events))
    chat.services.notices.wake()
    sent = (await chat.connector.wait_for(before + 1))[before:]
    card = sent[0]["attachments"][0]["content"]
    assert card["body"][0]["text"].startswith("1 device locked out, 5 devices provisioned")
    assert "Needs action" in json.dumps(card["body"][1])


@pytest.mark.parametrize("retry_after", ["1", None])
async def test_a_429_is_honoured_and_the_notice_waits_in_the_outbox(
        chat: ChatDriver, clock: FakeClock, retry_after: str | None) -> None:
    await followed(chat)
    before = len(chat.connector.received)
    chat.connector.throttle = [retry_after]
    await add_events(chat, macs(1), clock)
    async with _deadline(5):
        while chat.connector.answered_429 == 0:
            await _tick()
    assert pending(chat) == ["02-00-00-00-00-00"], "throttled: still in the outbox"
    sent = (await chat.connector.wait_for(before + 1, timeout=5))[before:]
    assert "02-00-00-00-00-00" in sent[0]["text"]
    assert await emptied(chat)


async def test_a_connector_that_is_down_then_up_gets_the_notices(
        aiohttp_client, tmp_path: Path, clock: FakeClock, caplog) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = fast_notices(data_dir=tmp_path / "data", notify_retry_seconds=(0.1,))
    client = await aiohttp_client(await create_app(settings, clock=clock))
    fake = FakeConnector()
    chat = ChatDriver(client, fake, f"http://127.0.0.1:{port}/")
    await chat.expect_replies(chat.activity(text=f"add {MAC} Lobby"))
    await chat.expect_replies(chat.activity(text=f"code {MAC}"))  # the conversation is saved, the connector down
    with caplog.at_level(logging.WARNING):
        await add_events(chat, macs(3), clock)
        async with _deadline(5):
            while "attempt 2" not in caplog.text:
                await _tick()
    assert len(pending(chat)) == 3
    async with serving(fake, port=port):
        sent = await fake.wait_for(1, timeout=5)
        assert all(mac in named_in(sent) for mac in macs(3))
        assert await emptied(chat)


async def test_a_conversation_that_keeps_failing_is_given_up_with_an_error_naming_it(
        aiohttp_client, tmp_path: Path, clock: FakeClock, connector, caplog) -> None:
    fake, url = connector
    settings = fast_notices(data_dir=tmp_path / "data", notify_retry_seconds=(0.1,), notice_give_up_hours=0.5 / 3600)
    chat = ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), fake, url)
    await followed(chat)
    fake.fail_sends = 10**6
    with caplog.at_level(logging.WARNING):
        await add_events(chat, macs(2), clock)
        async with _deadline(5):
            while pending(chat):
                await _tick()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "gave up" in r.getMessage()]
    assert len(errors) == 1
    assert TENANT in errors[0] and all(mac in errors[0] for mac in macs(2))
    conversation_id = chat.activity()["conversation"]["id"]
    assert conversation_id in errors[0]


async def emptied(chat: ChatDriver) -> bool:
    """Wait (briefly) until the outbox is empty: the settling commit follows the send."""
    async with _deadline(5):
        while pending(chat):
            await _tick()
    return True


def _deadline(seconds: float) -> Any:
    import asyncio

    return asyncio.timeout(seconds)


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.02)
