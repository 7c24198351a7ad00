"""Issue 11: bulk work (a 20,000-row upload, `code all`) never holds the event loop, shows
its progress in place, and keeps its guarantees when two bulk operations meet.

The loop is watched the way any other client sees it: a client in another thread asks
`/healthz` every few milliseconds while the work runs, and the slowest answer is the stall.
Every test runs on the embedded store and on PostgreSQL. Before issue 11
that was ~0.9 s for this upload and ~1.1 s for this `code all`; the goal is 100 ms, and the
bound asserted here is 300 ms, room for a shared 2-core machine and a large test process.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.chat import progress
from bot.settings import Settings
from provisioning.audit import Actor
from provisioning.devices import Device, DeviceState
from provisioning.progress import Progress
from provisioning.repository import PreparedSave
from tests.bot.chat import ChatDriver, cards_in, texts_in
from tests.bot.conftest import fast_notices
from tests.outside import Outside, Pinger
from tests.pg import fresh_schema

ROWS = 20_000
STALL_BOUND = 0.300  # seconds: the 100 ms goal with a margin for a shared 2-core machine
ADMIN = Actor(id="aad-bulk", name="Bulk Admin", source="chat")


def mac(i: int) -> str:
    return f"00-1C-{i >> 16 & 0xFF:02X}-{i >> 8 & 0xFF:02X}-{i & 0xFF:02X}-5E"


def csv_rows(count: int) -> bytes:
    lines = ["MAC id,Location"] + [f"{mac(i)},Building {i % 7} room {i}" for i in range(count)]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture(params=["tinydb", "postgres"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Every test here on the embedded store and on PostgreSQL (skipped where none answers)."""
    embedded = fast_notices(data_dir=tmp_path / "data", tenant_name="Contoso")
    if request.param == "tinydb":
        yield embedded
        return
    async with fresh_schema() as url:
        yield replace(embedded, database_url=url)


async def watched(chat: ChatDriver, work: Awaitable[Any]) -> tuple[Any, Pinger]:
    """`work`'s result, and how long `/healthz` took at worst meanwhile, asked from another
    thread (a client on the app's own loop couldn't send while the loop is held)."""
    pinger = Pinger(str(chat.client.make_url("/healthz")))
    async with Outside(pinger):
        result = await work
    return result, pinger


@pytest.fixture
async def quick_progress(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Progress after 50 ms and every 50 ms, so a test-sized job shows several updates."""
    monkeypatch.setattr(progress, "FIRST_AFTER", 0.05)
    monkeypatch.setattr(progress, "EVERY", 0.05)
    yield


def upload_body(chat: ChatDriver, name: str, data: bytes) -> dict[str, Any]:
    chat.connector.files[name] = data
    body = chat.activity(attachments=[{"contentType": "application/vnd.ms-excel", "name": name,
                                       "contentUrl": f"{chat.service_url}v3/attachments/{name}/views/original"}])
    body.pop("text", None)
    return body


async def test_a_bulk_upload_and_code_all_never_hold_the_loop_and_show_progress_in_place(
        chat: ChatDriver, quick_progress: None) -> None:
    replies, pinger = await watched(chat, chat.send(upload_body(chat, "big.csv", csv_rows(ROWS))))
    upload_stall, upload_pings = pinger.slowest, pinger.count
    assert len(chat.services.service.list_devices("local")) == ROWS
    # The progress card was sent, updated in place, and the report replaced it.
    updates = chat.connector.activities("update")
    sent_cards = cards_in([r.body for r in chat.connector.received if r.method != "update"])
    assert any("Importing big.csv" in json.dumps(card) for card in sent_cards), texts_in(replies)
    assert any("rows checked" in json.dumps(update) for update in updates[:-1])
    assert "Import finished" in json.dumps(updates[-1])
    assert not any("Import finished" in json.dumps(card) for card in sent_cards)  # replaced, not sent anew

    before = len(chat.connector.activities("update"))
    replies, pinger = await watched(chat, chat.say("code all"))
    code_stall = pinger.slowest
    updates = chat.connector.activities("update")[before:]
    assert any("Issuing verification codes" in json.dumps(card) for card in cards_in(replies))
    assert f"{ROWS} verification codes issued" in json.dumps(updates[-1])
    assert len(chat.services.service.valid_codes("local")) == ROWS

    assert upload_pings > 10
    assert upload_stall < STALL_BOUND, f"upload held the loop {upload_stall * 1000:.0f} ms"
    assert code_stall < STALL_BOUND, f"code all held the loop {code_stall * 1000:.0f} ms"


async def test_where_the_channel_cannot_update_a_few_progress_lines_at_most(
        chat: ChatDriver, quick_progress: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "EVERY", 0.01)
    replies = await chat.expect_replies(upload_body(chat, "big.csv", csv_rows(ROWS)))
    progress_messages = [r for r in replies if "Importing big.csv" in json.dumps(r)]
    assert 1 <= len(progress_messages) <= progress.MAX_LINES
    assert "Import finished" in json.dumps(replies[-1])


async def test_two_concurrent_uploads_of_the_same_devices_add_each_once(chat: ChatDriver) -> None:
    service = chat.services.service
    rows = [(mac(i), f"Room {i}") for i in range(5_000)]
    first, second = await asyncio.gather(service.add_devices("local", ADMIN, rows),
                                         service.add_devices("local", ADMIN, rows[::-1]))
    assert len(first.added) + len(second.added) == len(rows)
    assert {d.mac for d in first.added}.isdisjoint(d.mac for d in second.added)
    assert len(first.already_present) + len(second.already_present) == len(rows)
    assert len(service.list_devices("local")) == len(rows)


async def test_two_concurrent_code_alls_code_each_device_once(chat: ChatDriver) -> None:
    service = chat.services.service
    await service.add_devices("local", ADMIN, [(mac(i), "") for i in range(5_000)])
    first, second = await asyncio.gather(service.issue_codes_for_all("local", ADMIN),
                                         service.issue_codes_for_all("local", ADMIN))
    assert len(first) + len(second) == 5_000
    assert {d.mac for d in first}.isdisjoint(d.mac for d in second)
    codes = {d.mac: d.code for d in service.list_devices("local")}
    assert codes == {d.mac: d.code for d in first + second}


async def test_code_all_issues_nothing_for_a_device_removed_or_coded_meanwhile(
        chat: ChatDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    service = chat.services.service
    await service.add_devices("local", ADMIN, [(mac(i), "") for i in range(ROWS)])
    repo = chat.services.store.tenant("local")
    # Hold code all once its codes are made, before its final check: others act meanwhile.
    made, go_on = asyncio.Event(), asyncio.Event()
    prepare = repo.prepare_save

    async def held_prepare(devices: Sequence[Device]) -> PreparedSave:
        prepared = await prepare(devices)
        made.set()
        await go_on.wait()
        return prepared

    monkeypatch.setattr(repo, "prepare_save", held_prepare)
    counter = Progress()
    issuing: asyncio.Future[list[Device]] = asyncio.ensure_future(service.issue_codes_for_all("local", ADMIN, counter))
    await made.wait()
    assert counter.done == ROWS  # every due device got a code in the worker thread
    removed = await service.remove_device("local", ADMIN, mac(7))
    coded = await service.issue_code("local", ADMIN, mac(8))
    go_on.set()
    issued = await issuing
    assert removed.state is DeviceState.WAITING_ON_ACTIVATION
    assert mac(7) not in {d.mac for d in issued} and mac(8) not in {d.mac for d in issued}
    assert len(issued) == ROWS - 2
    assert service.get_device("local", mac(8)).code == coded.code  # not replaced by code all's
    assert mac(7) not in {d.mac for d in service.list_devices("local")}  # not brought back


async def until(condition: Any, seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def test_after_a_restart_the_first_list_all_does_not_hold_the_loop(
        chat: ChatDriver, settings: Settings, aiohttp_client: Any, clock: Any) -> None:
    await chat.services.service.add_devices("local", ADMIN, [(mac(i), f"Room {i}") for i in range(ROWS)])
    await chat.client.close()  # the service stops...
    again = ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), chat.connector,
                       chat.service_url)  # ...and starts on the same store
    repo = again.services.store.tenant("local")
    # Started, it decodes the stored devices in the background, not in the first full read.
    await until(lambda: repo.undecoded == 0)
    replies, pinger = await watched(again, again.say("list all"))
    assert f"{ROWS} devices" in json.dumps(cards_in(replies))
    assert pinger.slowest < STALL_BOUND, f"list all after a restart held the loop {pinger.slowest * 1000:.0f} ms"


async def test_a_list_all_before_the_background_decode_is_done_still_does_not_hold_the_loop(
        chat: ChatDriver, settings: Settings, aiohttp_client: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 2 * ROWS  # decoding them all on the loop would take ~0.5 s here
    await chat.services.service.add_devices("local", ADMIN, [(mac(i), f"Room {i}") for i in range(rows)])
    await chat.client.close()
    # As if the first `list all` came before the start's background decode got to this tenant.
    async def not_yet(self: Any) -> None:
        return None

    monkeypatch.setattr(type(chat.services.store), "warm", not_yet)
    again = ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), chat.connector,
                       chat.service_url)
    assert again.services.store.tenant("local").undecoded == rows
    replies, pinger = await watched(again, again.say("list all"))
    assert f"{rows} devices" in json.dumps(cards_in(replies))
    assert pinger.slowest < STALL_BOUND, f"list all held the loop {pinger.slowest * 1000:.0f} ms"
