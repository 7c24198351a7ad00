"""Several instances of the bot on one PostgreSQL database, as behind a load balancer:
two real apps (each with its own store, replica and pool) on one fresh schema. What one
instance did, the other sees; every check-then-change holds across them."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.app import create_app
from bot.settings import Settings
from provisioning.clock import FakeClock
from storage.postgres import PostgresStore
from tests.bot.chat import ChatDriver, cards_in, texts_in
from tests.bot.connector import FakeConnector, serving
from tests.bot.test_bulk import ROWS, STALL_BOUND, csv_rows, until, upload_body, watched
from tests.bot.test_bulk import mac as bulk_mac
from tests.outside import Outside, Pinger
from tests.pg import fresh_schema

MAC = "00-1A-2B-3C-4D-5E"
T55A = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}


@pytest.fixture
async def pair(aiohttp_client, clock: FakeClock, tmp_path) -> AsyncIterator[tuple[ChatDriver, ChatDriver]]:
    async with fresh_schema() as url, serving(FakeConnector()) as (fake, service_url):
        drivers = []
        for name in ("a", "b"):
            settings = Settings(data_dir=tmp_path / name, database_url=url, tenant_name="Contoso",
                                device_rate_limit=1000, notify_retry_seconds=(0.01,))
            drivers.append(ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), fake, service_url))
        yield drivers[0], drivers[1]


async def synced(*drivers: ChatDriver) -> None:
    """Let each instance apply what the others committed (the feed, without waiting for it)."""
    for driver in drivers:
        store = driver.services.store
        assert isinstance(store, PostgresStore)
        await store.sync()


async def provision(chat: ChatDriver, code: str, mac: str = MAC):
    return await chat.client.post("/api/devices/provision", json={"mac": mac, "verification_code": code, **T55A})


async def test_what_one_instance_added_the_other_lists(pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    await a.say(f"add {MAC} Lobby")
    await synced(b)
    assert "Lobby" in texts_in(await b.say(f"status {MAC}"))
    assert "already in" in texts_in(await b.say(f"add {MAC} Elsewhere"))


async def test_the_feed_brings_changes_without_being_asked(pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    await a.say(f"add {MAC} Lobby")
    async with asyncio.timeout(5):
        while b.services.service.list_devices("local") == []:
            await asyncio.sleep(0.01)
    assert b.services.service.get_device("local", MAC).location == "Lobby"


async def test_a_code_provisions_once_whichever_instances_the_device_reaches(
        pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    for round_ in range(10):
        mac = f"02-00-00-00-00-{round_:02X}"
        await a.say(f"add {mac} Room {round_}")
        await a.say(f"code {mac}")
        code = a.services.service.get_device("local", mac).code.value
        await synced(b)
        answers = await asyncio.gather(provision(a, code, mac), provision(b, code, mac))
        assert sorted(r.status for r in answers) == [200, 401], round_


async def test_concurrent_code_requests_at_both_leave_exactly_one_valid_code(
        pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    await a.say(f"add {MAC} Lobby")
    await synced(b)
    await asyncio.gather(*(driver.say(f"code {MAC}") for driver in (a, b) * 10))
    await synced(a, b)
    code_a = a.services.service.get_device("local", MAC).code
    code_b = b.services.service.get_device("local", MAC).code
    assert code_a == code_b and code_a is not None
    assert (await provision(b, code_a.value)).status == 200


async def test_a_link_made_at_one_instance_downloads_from_the_other(pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    card = cards_in(await a.say("template"))[0]
    url = next(action["url"] for action in card.get("actions", []) if action.get("type") == "Action.OpenUrl")
    path = url[url.index("/downloads/"):]
    response = await b.client.get(path)
    assert response.status == 200
    assert (await response.read()).startswith(b"\xef\xbb\xbfMAC id,Location")


async def test_a_card_used_at_one_instance_is_used_at_the_other(pair: tuple[ChatDriver, ChatDriver]) -> None:
    from tests.bot.chat import submit_data

    a, b = pair
    await a.say(f"add {MAC} Lobby")
    confirm = cards_in(await a.say(f"remove {MAC}"))[0]
    data = submit_data(confirm, "remove_cancel")
    await synced(b)
    answers = await asyncio.gather(a.submit(data), b.submit(data))
    texts = [texts_in(replies) for replies in answers]
    assert sum("already used" in t for t in texts) == 1, texts


async def test_the_device_rate_limit_is_one_limit_across_instances(
        aiohttp_client, clock: FakeClock, tmp_path) -> None:
    # The shared limit counts in fixed one-minute windows: start well inside one, so that
    # these attempts (about 2 s of them) all fall in it.
    if time.time() % 60 > 54:
        await asyncio.sleep(60.5 - time.time() % 60)
    async with fresh_schema() as url, serving(FakeConnector()) as (fake, service_url):
        drivers = []
        for name in ("a", "b"):
            settings = Settings(data_dir=tmp_path / name, database_url=url, device_rate_limit=3)
            drivers.append(ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), fake, service_url))
        statuses = []
        for driver in drivers * 2:
            statuses.append((await provision(driver, "000000000000")).status)
            await asyncio.sleep(0.5)  # each instance shares what it counted within a fifth of a second
        assert statuses[:3] == [401, 401, 401] and statuses[3] == 429


async def cut_off(driver: ChatDriver) -> int:
    """Close every database connection of this instance from the server side, as a
    database restart or failover does; returns how many were cut."""
    import asyncpg

    from tests.pg import base_url

    store = driver.services.store
    assert isinstance(store, PostgresStore)
    admin = await asyncpg.connect(base_url())
    try:
        return len(await admin.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE application_name = $1", f"provisioning-bot {store.instance}"))
    finally:
        await admin.close()


async def test_an_instance_recovers_by_itself_when_its_database_connections_come_back(
        pair: tuple[ChatDriver, ChatDriver]) -> None:
    a, b = pair
    await a.say(f"add {MAC} Lobby")
    assert await cut_off(a) >= 2, "the pool's connections and the feed's"
    answers = []
    for n in range(12):  # each dead pooled connection fails one request, then is replaced
        answers.append(texts_in(await a.say(f"add 02-00-00-00-01-{n:02X} Hall")))
        if "Device added" in answers[-1]:
            break
    assert "Device added" in answers[-1], answers
    assert all("Sorry" not in answer for answer in answers), answers
    await b.say("add 02-00-00-00-02-01 From b")  # the feed at a reconnected and catches up
    async with asyncio.timeout(10):
        while a.services.service.list_devices("local") and \
                "02-00-00-00-02-01" not in {d.mac for d in a.services.service.list_devices("local")}:
            await asyncio.sleep(0.05)


async def test_another_instances_bulk_work_never_holds_this_ones_loop(pair: tuple[ChatDriver, ChatDriver]) -> None:
    """Instance a uploads 20,000 devices and codes them all; b takes in both changes from
    the feed (decoded off its loop, applied in one step, its devices decoded in the
    background) while a client asks b's /healthz, then lists them at once."""
    a, b = pair
    repo_b = b.services.store.tenant("local")
    pinger = Pinger(str(b.client.make_url("/healthz")))
    async with Outside(pinger):
        await a.send(upload_body(a, "big.csv", csv_rows(ROWS)))
        await until(lambda: repo_b.undecoded == 0 and repo_b.get(bulk_mac(ROWS - 1)) is not None)
        await a.say("code all")
        await until(lambda: repo_b.undecoded == 0 and repo_b.get(bulk_mac(ROWS - 1)).code is not None)
    assert pinger.count > 10
    assert pinger.slowest < STALL_BOUND, f"b's loop was held {pinger.slowest * 1000:.0f} ms"
    replies, listed = await watched(b, b.say("list all"))
    assert f"{ROWS} devices" in json.dumps(cards_in(replies))
    assert listed.slowest < STALL_BOUND, f"list all at b held its loop {listed.slowest * 1000:.0f} ms"


async def test_two_instances_uploading_the_same_devices_at_once_add_each_once_without_holding_the_loop(
        pair: tuple[ChatDriver, ChatDriver]) -> None:
    """One upload's bulk commit wins; the other is refused in the database, undone, its
    rows re-read (off the loop) and retried, and reports them all already present."""
    a, b = pair
    data = csv_rows(ROWS)
    pinger = Pinger(str(a.client.make_url("/healthz")))
    async with Outside(pinger):
        await asyncio.gather(a.send(upload_body(a, "one.csv", data)), b.send(upload_body(b, "two.csv", data)))
    events = await a.services.store.read_audit("local", limit=10)
    assert sum(e["detail"]["count"] for e in events if e["action"] == "devices.added") == ROWS
    await synced(a, b)
    assert len(a.services.service.list_devices("local")) == len(b.services.service.list_devices("local")) == ROWS
    assert pinger.slowest < STALL_BOUND, f"the loop was held {pinger.slowest * 1000:.0f} ms"
