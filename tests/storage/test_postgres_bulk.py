"""Bulk commits on the PostgreSQL store: a run of thousands of rows prepared off the loop
(`prepare_save`), staged in whole-run steps, written in JSON statements, and checked,
refused and undone like any commit."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from provisioning.repository import ConcurrentChange, PreparedSave
from storage.errors import InvalidCommit, StoreError
from storage.postgres import PostgresStore, open_postgres_store
from tests.pg import fresh_schema
from tests.storage.conftest import coded, device, event, mac, moved, stored

ROWS = 3_000  # above the writer's thresholds (rows gathered in a thread, 2,000 rows a statement)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with fresh_schema() as schema_url:
        yield schema_url


@pytest.fixture
async def store(url: str) -> AsyncIterator[PostgresStore]:
    opened = await open_postgres_store(url)
    yield opened
    await opened.close()


@pytest.fixture
async def other(url: str, store: PostgresStore) -> AsyncIterator[PostgresStore]:
    """A second instance on the same database."""
    opened = await open_postgres_store(url)
    yield opened
    await opened.close()


async def database_rows(url: str, tenant: str) -> dict[str, dict[str, object]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT key, doc::text AS doc FROM documents WHERE tenant_id = $1 "
                                      "AND tbl = 'devices'", tenant)
    finally:
        await connection.close()
    return {orjson.loads(row["key"]): orjson.loads(row["doc"]) for row in rows}


async def test_a_prepared_bulk_add_is_written_whole_and_seen_by_another_instance(
        url: str, store: PostgresStore, other: PostgresStore) -> None:
    repo = store.tenant("t1")
    devices = [device("t1", n) for n in range(ROWS)]
    await repo.commit(save=await repo.prepare_save(devices), audit=[event("t1", "devices.added")])
    in_database = await database_rows(url, "t1")
    assert len(in_database) == ROWS and in_database[mac(7)]["location"] == "Room 1"
    await other.sync()
    assert len(other.tenant("t1").devices()) == ROWS
    # Versions were confirmed: a later change of one of them is checked and written.
    await repo.commit(save=[moved(stored(repo, mac(7)), "Hall")])
    assert (await database_rows(url, "t1"))[mac(7)]["location"] == "Hall"


async def test_a_bulk_run_meeting_another_instances_change_is_refused_whole_and_undone(
        url: str, store: PostgresStore, other: PostgresStore) -> None:
    repo_a, repo_b = store.tenant("t1"), other.tenant("t1")
    await repo_a.commit(save=[device("t1", n) for n in range(ROWS)])
    await other.sync()
    before = repo_a.get(mac(5))
    # A code for every device, prepared on A; meanwhile B moves one of them.
    prepared = await repo_a.prepare_save([coded(d) for d in repo_a.devices()])
    await repo_b.commit(save=[moved(stored(repo_b, mac(5)), "Hall")])
    with pytest.raises(ConcurrentChange):
        await repo_a.commit(save=prepared)
    # Nothing of the run was kept, here or there; A now sees what B wrote.
    assert all(d.code is None for d in repo_a.devices())
    assert stored(repo_a, mac(5)).location == "Hall" and before is not None
    assert stored(repo_a, mac(6)) == device("t1", 6)
    assert not any("code" in doc and doc["code"] for doc in (await database_rows(url, "t1")).values())
    # The retry (as retry_on_conflict does) goes through.
    await repo_a.commit(save=await repo_a.prepare_save([coded(d) for d in repo_a.devices()]))
    assert all(d.code is not None for d in repo_a.devices())


async def test_a_bulk_run_over_a_row_with_an_unwritten_local_commit_rests_on_it(url: str, store: PostgresStore) -> None:
    repo = store.tenant("t1")
    await repo.commit(save=[device("t1", n) for n in range(ROWS)])
    prepared = await repo.prepare_save([coded(moved(d, "Annex")) for d in repo.devices()])
    # A single change staged and not yet written, then the run over the same row.
    first = asyncio.ensure_future(repo.commit(save=[moved(stored(repo, mac(3)), "Hall")]))
    await asyncio.sleep(0)
    await repo.commit(save=prepared)
    await first
    in_database = await database_rows(url, "t1")
    assert in_database[mac(3)]["location"] == "Annex"  # the run came second and won
    assert {doc["location"] for doc in in_database.values()} == {"Annex"}
    again = await open_postgres_store(url)
    assert stored(again.tenant("t1"), mac(3)).location == "Annex"
    await again.close()


async def test_a_bulk_run_not_prepared_by_the_store_is_refused_with_nothing_changed(
        url: str, store: PostgresStore) -> None:
    repo = store.tenant("t1")
    devices = [device("t1", n) for n in range(10)]
    forged = PreparedSave(devices, repo, [{"mac": d.mac} for d in devices])  # docs, not the store's forms
    with pytest.raises(InvalidCommit):
        await repo.commit(save=forged)
    assert repo.devices() == []
    assert await database_rows(url, "t1") == {}


async def test_a_bulk_run_the_database_refuses_is_undone_here_to_what_was_before(
        url: str, store: PostgresStore) -> None:
    repo = store.tenant("t1")
    await repo.commit(save=[device("t1", n) for n in range(ROWS)])
    before = {d.mac: d for d in repo.devices()}
    # PostgreSQL's jsonb takes no NUL character: the write fails in the database.
    run = [coded(moved(d, "Room\x00" if d.mac == mac(5) else "Annex")) for d in repo.devices()]
    with pytest.raises(StoreError):
        await repo.commit(save=await repo.prepare_save(run))
    assert {d.mac: d for d in repo.devices()} == before
    assert {doc["location"] for doc in (await database_rows(url, "t1")).values()} == {"Room 1"}


async def test_a_bulk_add_the_database_refuses_leaves_no_device_behind(url: str, store: PostgresStore) -> None:
    repo = store.tenant("t1")
    await repo.commit(save=[device("t1", 0, "Lobby")])
    added = [device("t1", n, "Room\x00" if n == 5 else "Annex") for n in range(1, ROWS)]
    with pytest.raises(StoreError):
        await repo.commit(save=await repo.prepare_save(added))
    assert repo.devices() == [device("t1", 0, "Lobby")]
    assert store.tenants_with_mac(mac(7)) == [] and store.tenants_with_mac(mac(0)) == ["t1"]
    assert list(await database_rows(url, "t1")) == [mac(0)]
